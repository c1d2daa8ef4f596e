-- Append entries to a site's recording for forecasts (docs/forecast.md).
-- KEYS: the stream, the hash of profile layouts (one hash tag: one slot).
-- ARGV: layout id, layout names (JSON), cap on entries, the oldest time kept
-- (ms), then pairs of (time in ms, entry).
--
-- Each entry's id starts with its own time, so a forecast reads a window by
-- id. Engine nodes' clocks differ by a few ms and a stream's ids only grow:
-- an entry older than the newest is filed at the newest's ms.
local stream, layouts = KEYS[1], KEYS[2]
redis.call('HSETNX', layouts, ARGV[1], ARGV[2])
local cap = ARGV[3]
local last = 0
local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
if top[1] then
  last = tonumber(string.match(top[1][1], '^(%d+)'))
end
for i = 5, #ARGV, 2 do
  local ms = math.floor(tonumber(ARGV[i]))
  if ms < last then ms = last end
  last = ms
  redis.call('XADD', stream, 'MAXLEN', '~', cap, string.format('%.0f', ms) .. '-*',
             'e', ARGV[i + 1])
end
redis.call('XTRIM', stream, 'MINID', '~', ARGV[4])
return (#ARGV - 4) / 2
