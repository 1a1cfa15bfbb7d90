-- wrk script: POST /v1/ratings with a fresh random UUID v4 per request, like many
-- citizens rating at once. The entrypoint comes from the EP environment variable.
-- With DISTINCT=1 every request also comes from a new client (an IPv6 /64 of its own,
-- through X-Forwarded-For) and rates a page never rated before: the flood that could grow
-- the intake's memory by client, page or id (tests/bench/memory.sh).
-- With DELAY_MS=n each connection waits n ms before each request: a steady load of about
-- connections x 1000 / (n + latency) requests/s (run.sh's sustained load).
local counter = 0
local entrypoint = os.getenv("EP")
local origin = os.getenv("ORIGIN")
local distinct = os.getenv("DISTINCT") == "1"
local delay_ms = tonumber(os.getenv("DELAY_MS") or "")
if delay_ms then
  function delay()
    return delay_ms
  end
end

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
end

local function hex(n)
  local s = ""
  for _ = 1, n do s = s .. string.format("%x", math.random(0, 15)) end
  return s
end

request = function()
  local id = hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" .. string.format("%x", math.random(8, 11)) .. hex(3) .. "-" .. hex(12)
  local headers = { ["Content-Type"] = "application/json", ["Origin"] = origin }
  local page = origin .. "/servizi/"
  if distinct then
    headers["X-Forwarded-For"] = "2001:db8:" .. hex(4) .. ":" .. hex(4) .. "::1"
    page = page .. hex(16)
  end
  local body = '{"id":"' .. id .. '","entrypoint":"' .. entrypoint .. '","page":"' .. page ..
    '","rating":' .. math.random(1, 5) .. ',"answers":[],"lang":"it","widget":"1.0.0"}'
  return wrk.format("POST", "/v1/ratings", headers, body)
end
