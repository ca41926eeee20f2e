-- wrk script: sends the requests of a pat-loadgen request file (one request
-- per line: METHOD<TAB>PATH[<TAB>Header-Name: value]...), round robin, each
-- wrk thread starting at a different line, and writes a
-- JSON summary to $PAT_WRK_OUT when the run ends.
--
--   PAT_WRK_REQUESTS=file PAT_WRK_OUT=out.json wrk -s requests.lua URL
--
-- The URL only names the host and port; paths come from the file.

local requests = {}
local index = 0
local thread_count = 0

local function load(path)
  local list = {}
  for line in io.lines(path) do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local fields = {}
      for field in (line .. "\t"):gmatch("([^\t]*)\t") do
        fields[#fields + 1] = field
      end
      local headers = {}
      for i = 3, #fields do
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        if name then headers[name] = value end
      end
      list[#list + 1] = wrk.format(fields[1], fields[2], headers)
    end
  end
  return list
end

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local path = os.getenv("PAT_WRK_REQUESTS")
  if not path then error("PAT_WRK_REQUESTS is not set") end
  requests = load(path)
  if #requests == 0 then error("no requests in " .. path) end
  index = ((thread_number or 0) * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local out = os.getenv("PAT_WRK_OUT")
  if not out then return end
  local f = assert(io.open(out, "w"))
  local e = summary.errors
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"rps":%.3f,"latency_us":{"min":%d,"mean":%.3f,"p50":%d,"p90":%d,' ..
    '"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    summary.requests / (summary.duration / 1e6),
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
  f:close()
end
