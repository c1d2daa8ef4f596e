--[[
One order's products counted as bought together: for each product, every other
product of the order gains ARGV[1] in its sorted set, and only its ARGV[2] best
partners stay. Every key shares the hash tag {SITE:products}: one slot.

KEYS[1]  ondo:{SITE:products}:feed, declared for Redis Cluster to route the call to the
         slot; the sets ondo:{SITE:products}:bt:PRODUCT are named from ARGV[4] on
ARGV[1]  the weight of this order (it doubles with every half-life since the epoch)
ARGV[2]  partners kept per product
ARGV[3]  time to live of a product's set, seconds
ARGV[4]  the key prefix "ondo:{SITE:products}:bt:"
ARGV[5..] the order's distinct product ids
]]

local weight, kept, ttl, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
for i = 5, #ARGV do
  local key = prefix .. ARGV[i]
  for j = 5, #ARGV do
    if i ~= j then redis.call("ZINCRBY", key, weight, ARGV[j]) end
  end
  redis.call("ZREMRANGEBYRANK", key, 0, -(kept + 1))
  redis.call("EXPIRE", key, ttl)
end
return #ARGV - 4
