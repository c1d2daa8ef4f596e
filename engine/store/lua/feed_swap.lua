--[[
Put a product feed written beside the live one in its place, with its
description, atomically (engine/store/redis_catalog.py): readers see the old
feed and its info, or the new feed and its info, never a mix.

KEYS[1]  ondo:{SITE:products}:feed:VERSION:NONCE   hash, the feed just written
KEYS[2]  ondo:{SITE:products}:feed                 hash: id -> the product as JSON
KEYS[3]  ondo:{SITE:products}:info                 hash: version, products, updated_at
ARGV[1]  the feed's version
ARGV[2]  its number of products
ARGV[3]  the time of the upload (seconds since the epoch)

Returns 1.
]]

if redis.call("EXISTS", KEYS[1]) == 1 then
  redis.call("RENAME", KEYS[1], KEYS[2])
else
  redis.call("DEL", KEYS[2])  -- an empty feed is written as no hash at all
end
redis.call("HSET", KEYS[3], "version", ARGV[1], "products", ARGV[2], "updated_at", ARGV[3])
return 1
