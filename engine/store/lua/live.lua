--[[
The site's live counters (rule attributes product_viewers_now,
site_visitors_now, product_purchases_24h, product_cart_adds_24h): one call
writes what an event changes and reads the figures a rule needs. Every key
shares the hash tag {SITE:live}, so the call touches one slot; the product keys
are named from the data, all in that slot.

KEYS[1]  ondo:{SITE:live}:v         sorted set: visitor -> time of their last page view
KEYS[2]  ondo:{SITE:live}:at        hash: visitor -> product of their current page
         ondo:{SITE:live}:p:PRODUCT sorted set: visitor -> time, those on that product's page
         ondo:{SITE:live}:b:PRODUCT hash: hour number -> orders with the product
         ondo:{SITE:live}:c:PRODUCT hash: hour number -> times it was added to a cart
ARGV[1]  now, epoch seconds
ARGV[2]  the window of "now", seconds (300)
ARGV[3]  visitor ("" for an event of the shop's server)
ARGV[4]  "1" for a page view (the visitor's current page is ARGV[5]), else "0"
ARGV[5]  the page view's product ("" when the page shows none)
ARGV[6]  msgpack list: product ids added to the visitor's cart
ARGV[7]  msgpack list: product ids of an order
ARGV[8]  "1" to read the figures, else "0"
ARGV[9]  the product to read them for ("" for the site's figure alone)
ARGV[10] a profile key that is this visitor's no more (they signed in): it leaves
         every set, and the page view of ARGV[3] takes its place

Memory stays bounded: visitors leave the sets once their last page view is
older than the window (up to 50 per call, more than any call adds), product
sets and hashes expire after the window or 25 hours without a write, and hour
fields older than 24 hours are dropped when their hash is written.

Returns {} or {site visitors now, the product's other viewers now (the
visitor of ARGV[3] left out), orders 24 h, cart adds 24 h}.
]]

local vkey, atkey = KEYS[1], KEYS[2]
local prefix = string.sub(vkey, 1, -2)  -- "ondo:{SITE:live}:"
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local visitor, page, product = ARGV[3], ARGV[4] == "1", ARGV[5]
local added, bought = cmsgpack.unpack(ARGV[6]), cmsgpack.unpack(ARGV[7])
local read, wanted, left = ARGV[8] == "1", ARGV[9], ARGV[10] or ""
local since = now - window
local hour = math.floor(now / 3600)
local DAY_HOURS = 24

-- Visitors whose last page view left the window leave every set.
local gone = redis.call("ZRANGEBYSCORE", vkey, "-inf", "(" .. since, "LIMIT", 0, 50)
for _, who in ipairs(gone) do
  local at = redis.call("HGET", atkey, who)
  if at then redis.call("ZREM", prefix .. "p:" .. at, who) end
  redis.call("HDEL", atkey, who)
  redis.call("ZREM", vkey, who)
end

if left ~= "" then
  local at = redis.call("HGET", atkey, left)
  if at then redis.call("ZREM", prefix .. "p:" .. at, left) end
  redis.call("HDEL", atkey, left)
  redis.call("ZREM", vkey, left)
end

if page and visitor ~= "" then
  redis.call("ZADD", vkey, now, visitor)
  redis.call("EXPIRE", vkey, 2 * window)
  local before = redis.call("HGET", atkey, visitor)
  if before and before ~= product then redis.call("ZREM", prefix .. "p:" .. before, visitor) end
  if product ~= "" then
    local pkey = prefix .. "p:" .. product
    redis.call("HSET", atkey, visitor, product)
    redis.call("ZADD", pkey, now, visitor)
    redis.call("ZREMRANGEBYSCORE", pkey, "-inf", "(" .. since)
    redis.call("EXPIRE", pkey, 2 * window)
  else
    redis.call("HDEL", atkey, visitor)
  end
  redis.call("EXPIRE", atkey, 2 * window)
end

local function tally(kind, ids)
  local seen = {}
  for _, id in ipairs(ids) do
    if type(id) == "string" and not seen[id] then
      seen[id] = true
      local key = prefix .. kind .. id
      redis.call("HINCRBY", key, hour, 1)
      for _, field in ipairs(redis.call("HKEYS", key)) do
        if tonumber(field) <= hour - DAY_HOURS then redis.call("HDEL", key, field) end
      end
      redis.call("EXPIRE", key, (DAY_HOURS + 1) * 3600)
    end
  end
end
tally("c:", added)
tally("b:", bought)

if not read then return {} end

local function last_day(key)
  local flat = redis.call("HGETALL", key)
  local n = 0
  for i = 1, #flat, 2 do
    if tonumber(flat[i]) > hour - DAY_HOURS then n = n + tonumber(flat[i + 1]) end
  end
  return n
end

local site_now = redis.call("ZCOUNT", vkey, since, "+inf")
if wanted == "" then return {site_now} end
-- The viewers of the product besides the visitor asking: "3 people are
-- looking at this" is said to a fourth.
local pkey = prefix .. "p:" .. wanted
local viewers = redis.call("ZCOUNT", pkey, since, "+inf")
if visitor ~= "" then
  local mine = redis.call("ZSCORE", pkey, visitor)
  if mine and tonumber(mine) >= since then viewers = viewers - 1 end
end
return {site_now, viewers, last_day(prefix .. "b:" .. wanted), last_day(prefix .. "c:" .. wanted)}
