--[[
The products to recommend, in one call: the partners of the seed products
(lua/together.lua) with their weights added up, best first (ties by id), those
the feed has in stock and that are neither seeds nor left out, at most ARGV[3].
Every key shares the hash tag {SITE:products}: one slot.

KEYS[1]  ondo:{SITE:products}:feed (declared for Redis Cluster); the sets
         ondo:{SITE:products}:bt:SEED are named from ARGV[1]
ARGV[1]  the key prefix "ondo:{SITE:products}:"
ARGV[2]  partners read per seed, and considered in all (the best, seeds left out)
ARGV[3]  products wanted
ARGV[4]  how many seeds follow; then the seeds, then the products left out (the cart)

Returns the products as the feed holds them (JSON), best first.
]]

local prefix, kept, wanted, seeds = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local seed, skip, weights, order = {}, {}, {}, {}
for i = 5, 4 + seeds do seed[ARGV[i]] = true end
for i = 5 + seeds, #ARGV do skip[ARGV[i]] = true end
for i = 5, 4 + seeds do
  local flat = redis.call("ZREVRANGE", prefix .. "bt:" .. ARGV[i], 0, kept - 1, "WITHSCORES")
  for j = 1, #flat, 2 do
    local id = flat[j]
    if weights[id] == nil then table.insert(order, id); weights[id] = 0 end
    weights[id] = weights[id] + tonumber(flat[j + 1])
  end
end
table.sort(order, function(a, b)
  if weights[a] ~= weights[b] then return weights[a] > weights[b] end
  return a < b
end)
local out, considered = {}, 0
for _, id in ipairs(order) do
  if #out >= wanted then break end
  if not seed[id] then
    considered = considered + 1
    if considered > kept then break end
    if not skip[id] then
      local row = redis.call("HGET", KEYS[1], id)
      if row and cjson.decode(row).in_stock then table.insert(out, row) end
    end
  end
end
return out
