-- wrk script: POST /v1/ratings with a fresh random UUID v4 per request, like many
-- citizens rating at once. The entrypoint comes from the EP environment variable.
local counter = 0
local entrypoint = os.getenv("EP")
local origin = os.getenv("ORIGIN")

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
  local body = '{"id":"' .. id .. '","entrypoint":"' .. entrypoint .. '","page":"' .. origin ..
    '/servizi/","rating":' .. math.random(1, 5) .. ',"answers":[],"lang":"it","widget":"1.0.0"}'
  return wrk.format("POST", "/v1/ratings", { ["Content-Type"] = "application/json", ["Origin"] = origin }, body)
end
