--[[
Add to one site's daily per-rule counters in one call (engine/delivery/counters.py
flushes them once a second, in chunks, so no flush holds Redis or the event
loop for long).

KEYS[1]  ondo:{SITE}:stats:YYYYMMDD   hash: "rule|what" -> count
ARGV[1]  time to live of the hash, seconds
ARGV[2]  the limit no counter may reach (engine/store/base.py COUNTER_LIMIT)
ARGV[2k+1], ARGV[2k+2]  a field and the number to add to it, for k = 1, 2, ...

All or nothing: HINCRBY refuses a sum outside the signed 64-bit integers, or a
field that does not hold an integer, but only when it meets it, after the
fields before it were added, and a script's writes are never undone. So every
field is checked first (sums in doubles, exact enough that far below 2^63):
when one would reach the limit or holds something else than an integer,
nothing is added.

Returns the fields refused: none when everything was added.
]]

local key, limit = KEYS[1], tonumber(ARGV[2])
local fields = {}
for i = 3, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
end
if #fields == 0 then
  return {}
end
local current = redis.call("HMGET", key, unpack(fields))
local refused = {}
for j = 1, #fields do
  local held = 0
  if current[j] then  -- an integer, as HINCRBY wants, or refused
    held = string.match(current[j], "^-?%d+$") and tonumber(current[j])
  end
  local sum = held and held + tonumber(ARGV[2 * j + 2])
  if not sum or sum >= limit or sum <= -limit then
    refused[#refused + 1] = fields[j]
  end
end
if #refused > 0 then
  return refused
end
for i = 3, #ARGV, 2 do
  redis.call("HINCRBY", key, ARGV[i], ARGV[i + 1])
end
redis.call("EXPIRE", key, ARGV[1])
return {}
