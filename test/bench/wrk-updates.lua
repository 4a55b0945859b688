-- wrk script of `npm run bench:server` (server.bench.ts): POST /updates with the device bodies
-- of the file args[1], one JSON body per line. Thread k of args[2] threads starts at its own
-- offset and cycles through every body in turn, so each device asks about once per pass.
-- done() prints one JSON line that the bench parses: counts, and latency in microseconds.

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local bodies = {}
local i = 0
local headers = {
  ["content-type"] = "application/json; charset=utf-8",
  ["user-agent"] = "CapacitorUpdater/8.51.14 (com.example.bench) android/14",
}

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  i = math.floor(#bodies * id / tonumber(args[2]))
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/updates", headers, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
