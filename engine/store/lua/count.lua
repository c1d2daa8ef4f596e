--[[
Add to one site's daily per-rule counters in one call (engine/delivery/counters.py
flushes them once a second, in chunks, so no flush holds Redis or the event
loop for long).

KEYS[1]  ondo:{SITE}:stats:YYYYMMDD   hash: "rule|what" -> count
ARGV[1]  time to live of the hash, seconds
ARGV[2k], ARGV[2k+1]  a field and the number to add to it, for k = 1, 2, ...

Returns the number of fields added to.
]]

local key = KEYS[1]
for i = 2, #ARGV, 2 do
  redis.call("HINCRBY", key, ARGV[i], ARGV[i + 1])
end
redis.call("EXPIRE", key, ARGV[1])
return (#ARGV - 1) / 2
