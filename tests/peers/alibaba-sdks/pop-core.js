// npm @alicloud/pop-core, Alibaba's generic RPC client (V1 signatures), making a list of calls
// in one process.
//
//   node pop-core.js < {"endpoint", "accessKeyId", "accessKeySecret",
//                       "calls": [{"action", "params": {WireName: value}, "method"}]}
//   → one JSON line per call: {"status", "code", "message"}
//
// `method` is "GET" (pop-core's default, no options) or "POST" (`{method: "POST"}`, the form
// the tutorials show).  pop-core throws for any Code but OK and never shows the HTTP status;
// a 5xx answer still says InternalError in its Code, so that is what is reported.
"use strict";

const RPCClient = require("@alicloud/pop-core").RPCClient;

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const client = new RPCClient({
    accessKeyId: job.accessKeyId, accessKeySecret: job.accessKeySecret,
    endpoint: `http://${job.endpoint}`, apiVersion: "2017-05-25",
  });
  for (const { action, params, method } of job.calls) {
    let result;
    try {
      const body = method === "POST"
        ? await client.request(action, params, { method: "POST" })
        : await client.request(action, params);
      result = { status: null, code: body.Code, message: body.Message };
    } catch (error) {
      result = error.data
        ? { status: null, code: error.code, message: error.data.Message }
        : { status: null, code: null, error: String(error && error.stack || error) };
    }
    process.stdout.write(JSON.stringify(result) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(1);
});
