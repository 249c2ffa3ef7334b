-- online.lua - wrk script for bench/online: one random entity per request.
--
--   wrk ... -s online.lua URL -- MODE FORMAT IDS [ENTITY]
--     MODE    get   GET /v1/entities/ENTITY/values/u<k>
--             post  POST /v1/online:read {"entity":ENTITY,"ids":["u<k>"]}
--     FORMAT  json | pb   (pb: Accept, and for POST Content-Type, application/x-protobuf;
--                          the POST body is a hand-encoded OnlineReadRequest)
--     IDS     k is uniform in [0, IDS)
--
-- Every possible request is built once in init() and request() only picks one,
-- so the generator spends as little CPU as a scripted wrk can: it shares the
-- machine's cores with the server under test. The same script drives Strata
-- and nginx, so both see byte-identical requests.
--
-- done() prints one machine-readable line:
--   RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=..
--          max_us=.. bytes=B errors_connect=.. errors_read=.. errors_write=..
--          errors_status=.. errors_timeout=..

local reqs = {}
local nreqs = 0

-- Protobuf length-delimited field; lengths here are < 16384 (two-byte varint).
local function pb_bytes(field, s)
  local n = #s
  local len
  if n < 128 then
    len = string.char(n)
  else
    len = string.char(128 + n % 128, math.floor(n / 128))
  end
  return string.char(field * 8 + 2) .. len .. s
end

function init(args)
  local mode = args[1] or "get"
  local fmt = args[2] or "json"
  local ids = tonumber(args[3] or "100000")
  local entity = args[4] or "user"
  local headers = {}
  if fmt == "pb" then
    headers["Accept"] = "application/x-protobuf"
  else
    headers["Accept"] = "application/json"
  end
  for k = 0, ids - 1 do
    local id = "u" .. k
    local r
    if mode == "get" then
      r = wrk.format("GET", "/v1/entities/" .. entity .. "/values/" .. id, headers)
    elseif fmt == "pb" then
      headers["Content-Type"] = "application/x-protobuf"
      r = wrk.format("POST", "/v1/online:read", headers,
                     pb_bytes(1, entity) .. pb_bytes(2, id))
    else
      headers["Content-Type"] = "application/json"
      r = wrk.format("POST", "/v1/online:read", headers,
                     '{"entity":"' .. entity .. '","ids":["' .. id .. '"]}')
    end
    reqs[k + 1] = r
  end
  nreqs = ids
  -- Threads get different streams of ids.
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
