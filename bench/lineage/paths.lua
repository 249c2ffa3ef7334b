-- paths.lua - wrk script for bench/lineage: one request per line of a file of paths.
--
--   wrk ... -s paths.lua URL -- PATHS_FILE
--
-- Each line of PATHS_FILE is a request path ("/v1/lineage?artifact_id=12&..."); every
-- request is built once in init() and request() picks one uniformly at random, so the
-- generator spends as little CPU as a scripted wrk can (it shares the machine's cores
-- with the server).
--
-- done() prints one machine-readable line:
--   RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=..
--          max_us=.. bytes=B errors_connect=.. errors_read=.. errors_write=..
--          errors_status=.. errors_timeout=..

local reqs = {}
local nreqs = 0

function init(args)
  local file = args[1] or "paths.txt"
  local f = assert(io.open(file, "r"))
  for line in f:lines() do
    if #line > 0 then
      nreqs = nreqs + 1
      reqs[nreqs] = wrk.format("GET", line, {["Accept"] = "application/json"})
    end
  end
  f:close()
  assert(nreqs > 0, "no paths in " .. file)
  math.randomseed(os.time() + (tonumber(tostring(reqs):match("0x(%x+)"), 16) or 0) % 100003)
end

function request()
  return reqs[math.random(nreqs)]
end

function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_us=%d rps=%.0f p50_us=%d p90_us=%d p99_us=%d p999_us=%d " ..
    "max_us=%d bytes=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d " ..
    "errors_timeout=%d\n",
    summary.requests, summary.duration, summary.requests / secs,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout))
end
