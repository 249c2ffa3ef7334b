-- mix.lua - wrk script for bench/soak's peak: the soak's request mix, closed loop.
--
--   wrk ... -s mix.lua URL -- IDS GET POST WRITE
--     IDS               ids u0..u<IDS-1> of entity `user` (loaded by run.sh)
--     GET POST WRITE    weights: GET /v1/entities/user/values/u<k>, POST
--                       /v1/online:read of 10 ids, POST /v1/entities/user:write of
--                       10 rows setting `score` (the same shapes as loadgen --mix)
--
-- A pool of requests is built once in init() and request() picks one, so the
-- generator spends little CPU on the 2 shared cores. done() prints one line:
--   RESULT requests=N rps=R p99_us=.. errors=E (connect+read+write+status+timeout)

local pool = {}
local npool = 4096

function init(args)
  local ids = tonumber(args[1] or "20000")
  local wg, wp, ww = tonumber(args[2] or "60"), tonumber(args[3] or "25"), tonumber(args[4] or "15")
  local json = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
  math.randomseed(os.time() + (tonumber(tostring(pool):match("0x(%x+)"), 16) or 0) % 100003)
  local function id() return "u" .. math.random(0, ids - 1) end
  for i = 1, npool do
    local pick = math.random() * (wg + wp + ww)
    if pick < wg then
      pool[i] = wrk.format("GET", "/v1/entities/user/values/" .. id(), { ["Accept"] = "application/json" })
    elseif pick < wg + wp then
      local t = {}
      for k = 1, 10 do t[k] = '"' .. id() .. '"' end
      pool[i] = wrk.format("POST", "/v1/online:read", json,
                           '{"entity":"user","ids":[' .. table.concat(t, ",") .. ']}')
    else
      local t = {}
      for k = 1, 10 do
        t[k] = string.format('{"entity_id":"%s","values":{"score":%.4f}}', id(), math.random())
      end
      pool[i] = wrk.format("POST", "/v1/entities/user:write", json,
                           '{"rows":[' .. table.concat(t, ",") .. ']}')
    end
  end
end

function request()
  return pool[math.random(npool)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.0f p99_us=%d errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
