--[[
Benchmark-only twin of engine/store/lua/event.lua storing the profile as a Redis hash
(scalar fields as hash fields, nested maps as msgpack-encoded fields), to
compare against the single msgpack blob. Same work for a page view: dedupe,
roll the visit, count the page view in today's bucket, set the page fields,
return the whole profile.

KEYS[1] profile hash, KEYS[2] dedupe hash
ARGV[1] event id, ARGV[2] digest, ARGV[3] now, ARGV[4] timeout, ARGV[5] day,
ARGV[6] page path, ARGV[7] ttl
]]
local pkey, ekey = KEYS[1], KEYS[2]
local now, timeout, day = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local seen = redis.call("HGET", ekey, ARGV[1])
if seen then return {"dup", redis.call("HGETALL", pkey)} end
local last = tonumber(redis.call("HGET", pkey, "last_seen"))
local days_raw = redis.call("HGET", pkey, "days")
local days = {}
if days_raw then days = cmsgpack.unpack(days_raw) end
local b = days[day]
if type(b) ~= "table" then b = {v = 0, pv = 0, pc = 0, pt = 0}; days[day] = b end
if last == nil or now - last > timeout then
  redis.call("HINCRBY", pkey, "visit_count", 1)
  redis.call("HSET", pkey, "visit_started", now, "session_pageviews", 0)
  b.v = b.v + 1
end
redis.call("HINCRBY", pkey, "session_pageviews", 1)
redis.call("HINCRBY", pkey, "pageviews_total", 1)
b.pv = b.pv + 1
redis.call("HSET", pkey, "page_path", ARGV[6], "page_url", "https://s.kr" .. ARGV[6],
           "last_seen", now, "days", cmsgpack.pack(days))
redis.call("EXPIRE", pkey, tonumber(ARGV[7]))
redis.call("HSET", ekey, ARGV[1], ARGV[2])
redis.call("EXPIRE", ekey, 86400)
return {"new", redis.call("HGETALL", pkey)}
