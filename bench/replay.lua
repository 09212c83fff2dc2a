-- wrk script: replay pre-built request paths from a file, one per line, each sent once.
--
--   wrk -t T -c C -d 10s -s bench/replay.lua http://127.0.0.1:PORT -- PATHS_FILE T [METHOD]
--
-- METHOD is GET (the default) or POST; a POST carries an empty body (Content-Length: 0), as
-- aliyunsdkcore sends SendSms with every parameter in the query string.
-- Thread i of T sends lines i, i+T, i+2T, ... so that no two requests share a line (Pigeon
-- refuses a reused SignatureNonce).  A thread that runs out of lines starts over and counts
-- the wrap: the caller treats a wrapped run against Pigeon as invalid.
-- Every answer must be HTTP 200 with "Code":"OK" in its body; the others are counted, and the
-- first one is kept as a sample.  done() prints one line "WRK_JSON {...}" for the caller.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   local path, nthreads = args[1], tonumber(args[2])
   method = args[3] or "GET"
   body = nil
   if method == "POST" then
      body = ""
   end
   paths = {}
   local n = 0
   for line in io.lines(path) do
      if n % nthreads == id then
         paths[#paths + 1] = line
      end
      n = n + 1
   end
   index = 0
   wrapped = 0
   ok = 0
   bad_status = 0
   bad_body = 0
   sample = ""
end

function request()
   index = index + 1
   if index > #paths then
      index = 1
      wrapped = wrapped + 1
   end
   return wrk.format(method, paths[index], nil, body)
end

function response(status, headers, body)
   if status ~= 200 then
      bad_status = bad_status + 1
   elseif not string.find(body, '"Code":"OK"', 1, true) then
      bad_body = bad_body + 1
   else
      ok = ok + 1
      return
   end
   if sample == "" then
      sample = tostring(status) .. " " .. string.sub(body, 1, 300)
   end
end

local function quote(text)
   text = string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. text .. '"'
end

function done(summary, latency, requests)
   local totals = {ok = 0, bad_status = 0, bad_body = 0, wrapped = 0, lines = 0}
   local first_sample = ""
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         if name ~= "lines" then
            totals[name] = totals[name] + (thread:get(name) or 0)
         end
      end
      local s = thread:get("sample") or ""
      if first_sample == "" then
         first_sample = s
      end
   end
   local e = summary.errors
   local fields = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"ok":%d', totals.ok),
      string.format('"bad_status":%d', totals.bad_status),
      string.format('"bad_body":%d', totals.bad_body),
      string.format('"wrapped":%d', totals.wrapped),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
                    e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}',
                    latency.mean, latency:percentile(50), latency:percentile(90),
                    latency:percentile(99), latency.max),
      '"sample":' .. quote(first_sample),
   }
   io.write("WRK_JSON {" .. table.concat(fields, ",") .. "}\n")
end
