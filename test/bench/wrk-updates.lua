-- wrk script of `npm run bench:server` (server.bench.ts): POST /updates with the device bodies
-- of the file args[1], one JSON body per line. Thread k of args[2] threads starts at its own
-- offset and cycles through every body in turn, so each device asks about once per pass.
-- done() prints one JSON line that the bench parses: counts, and latency in microseconds.
--
-- The bodies are kept as one string and two arrays of offsets, not a table of a million strings:
-- LuaJIT's collector marks every live string on each cycle, and with a table of 1,000,000 bodies
-- those pauses (100 ms and more) landed in every server's p99 alike.

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local blob = ""
local starts, ends = {}, {}
local count = 0
local i = 0
local headers = {
  ["content-type"] = "application/json; charset=utf-8",
  ["user-agent"] = "CapacitorUpdater/8.51.14 (com.example.bench) android/14",
}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  blob = file:read("*a")
  file:close()
  local at = 1
  while at <= #blob do
    local stop = blob:find("\n", at, true) or (#blob + 1)
    if stop > at then
      count = count + 1
      starts[count] = at
      ends[count] = stop - 1
    end
    at = stop + 1
  end
  i = math.floor(count * id / tonumber(args[2]))
end

function request()
  i = i % count + 1
  return wrk.format("POST", "/updates", headers, blob:sub(starts[i], ends[i]))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
