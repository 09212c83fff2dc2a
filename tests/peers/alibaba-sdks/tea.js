// The current official Node.js SMS SDK, @alicloud/dysmsapi20170525 (V3 signatures), set up as
// Alibaba's samples do, making a list of calls in one process.
//
//   node tea.js < {"endpoint", "accessKeyId", "accessKeySecret",
//                  "calls": [{"action", "params": {WireName: value}}]}
//   → one JSON line per call: {"status", "code", "message"} (status null when the SDK itself
//     failed, e.g. casting an answer of the wrong JSON type; then "error" says why)
//
// Each request is built as users build it: `new XRequest({camelCaseName: value})`, nested
// list items as plain objects (the constructor makes them models).  Dybaseapi's
// QueryTokenForMnsQueue has no Node SDK of its own; it goes through the same client's generic
// callApi, as @alicloud/openapi-client users call any action.
"use strict";

const Dysmsapi = require("@alicloud/dysmsapi20170525");
const OpenApi = require("@alicloud/openapi-client");

function camel(modelClass, wire) {
  const names = modelClass.names();
  const types = modelClass.types();
  const known = Object.fromEntries(Object.entries(names).map(([field, name]) => [name, field]));
  const made = {};
  for (const [name, value] of Object.entries(wire)) {
    const field = known[name];
    if (field === undefined) throw new Error(`${modelClass.name} has no field ${name}`);
    const item = types[field] && types[field].itemType;
    made[field] = Array.isArray(value) && typeof item === "function" && item.names
      ? value.map((entry) => camel(item, entry)) : value;
  }
  return made;
}

async function call(client, action, params) {
  if (action === "QueryTokenForMnsQueue") {
    const answer = await client.callApi(
      new OpenApi.Params({ action, version: "2017-05-25", protocol: "HTTP", pathname: "/",
        method: "POST", authType: "AK", style: "RPC", reqBodyType: "formData", bodyType: "json" }),
      new OpenApi.OpenApiRequest({ query: params }), {});
    return answer.body;
  }
  const requestClass = Dysmsapi[`${action}Request`];
  const method = action[0].toLowerCase() + action.slice(1);
  const answer = await client[method](new requestClass(camel(requestClass, params)));
  return answer.body.toMap();
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const client = new Dysmsapi.default(new OpenApi.Config({
    accessKeyId: job.accessKeyId, accessKeySecret: job.accessKeySecret,
    endpoint: job.endpoint, protocol: "http",
  }));
  for (const { action, params } of job.calls) {
    let result;
    try {
      const body = await call(client, action, params);
      result = { status: 200, code: body.Code, message: body.Message };
    } catch (error) {
      result = error.statusCode
        ? { status: error.statusCode, code: error.code, message: error.data && error.data.Message }
        : { status: null, code: null, error: String(error && error.stack || error) };
    }
    process.stdout.write(JSON.stringify(result) + "\n");
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(1);
});
