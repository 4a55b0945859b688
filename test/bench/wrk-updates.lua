-- wrk script of `npm run bench:server` (server.bench.ts): POST /updates with the device bodies
-- described by the file args[1]. Thread k of args[2] threads starts at its own offset and cycles
-- through every device in turn, so each device asks about once per pass.
-- done() prints one JSON line that the bench parses: counts, and latency in microseconds.
--
-- The file holds the body templates (one per kind of device, a tab where the device id goes), then
-- every device id (36 characters each, concatenated) and one letter per device naming its
-- template. A body is template-prefix .. id .. template-suffix. Nothing is held per device but
-- those characters: with a table of a million body strings, LuaJIT's collector paused every load
-- for 40 ms and more, and that landed in every server's p99 alike, the bare one's included.

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local prefixes, suffixes = {}, {}
local ids, kinds = "", ""
local count = 0
local i = 0
local headers = {
  ["content-type"] = "application/json; charset=utf-8",
  ["user-agent"] = "CapacitorUpdater/8.51.14 (com.example.bench) android/14",
}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local templates = tonumber(file:read("*l"))
  for t = 1, templates do
    local line = file:read("*l")
    local tab = line:find("\t", 1, true)
    prefixes[t] = line:sub(1, tab - 1)
    suffixes[t] = line:sub(tab + 1)
  end
  ids = file:read("*l")
  kinds = file:read("*l")
  file:close()
  count = #kinds
  i = math.floor(count * id / tonumber(args[2]))
end

function request()
  i = i % count + 1
  local t = kinds:byte(i) - 64
  local at = (i - 1) * 36
  local body = prefixes[t] .. ids:sub(at + 1, at + 36) .. suffixes[t]
  return wrk.format("POST", "/updates", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"non2xx":%d,"errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
