--[[
Apply one visitor event to the stored profile, at most once. One call per
event; every key shares the visitor's hash tag, so this touches one slot.

KEYS[1]  ondo:{SITE:VISITOR}:p   the stored profile (a msgpack map, docs/storage.md)
KEYS[2]  ondo:{SITE:VISITOR}:e   hash: event id -> "content hash|time" (dedupe window)
KEYS[3]  ondo:{SITE:VISITOR}:d   hash: "YYYYMMDD:v|pv|pc|pt" -> day bucket counts
KEYS[4]  ondo:{SITE:VISITOR}:c   hash: rule id -> msgpack cap of that rule
ARGV[1]  event id
ARGV[2]  content hash of the event (same id + other content = conflict)
ARGV[3]  kind: pageview | cart | signal | track | identify | report | merge, or from the
         shop's server: purchase | member | coupon | cart_reset | tags, or exposure (a rule's
         holdout kept the visitor from its action); these last never start a visit
ARGV[4]  now, epoch seconds
ARGV[5]  session timeout, seconds (a new visit starts after this much silence)
ARGV[6]  today's day key YYYYMMDD in the site's time zone
ARGV[7]  oldest day key to keep in the day buckets
ARGV[8]  payload: a msgpack map whose fields depend on the kind
ARGV[9]  profile time to live, seconds
ARGV[10] dedupe window, seconds
ARGV[11] first day key of the 7-day window
ARGV[12] first day key of the 30-day window (ARGV[7] starts the 90-day one)
ARGV[13] "1" when the site's rules read windowed attributes: answer their sums

Returns {status, profile, windows, caps}: status "new" (applied), "dup"
(already applied: no effect) or "conflict" (id reused with other content: no
effect); windows = the sums {v, pv, pc, pt} over 7, 30 and 90 days (12 numbers);
caps as an HGETALL list. Day buckets and caps live beside the profile
(bench/RESULTS.md, "Profile encoding") so a page view does not decode and
re-encode 90 days of history. The window sums are kept in the profile
(p.w = {d = day, s = the 12 sums}): summed over the buckets once on the first
event of a day that asks, then kept current by every bucket increment that
day, so a regular's page view does not sum 360 fields.
]]

local pkey, ekey, dkey, ckey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, digest, kind = ARGV[1], ARGV[2], ARGV[3]
local now, timeout = tonumber(ARGV[4]), tonumber(ARGV[5])
local today, oldest = ARGV[6], ARGV[7]
local payload = cmsgpack.unpack(ARGV[8])
local ttl, dedupe_ttl = tonumber(ARGV[9]), tonumber(ARGV[10])
local since7, since30, want_windows = ARGV[11], ARGV[12], ARGV[13] == "1"

local METRIC = {v = 0, pv = 1, pc = 2, pt = 3}

-- The sums over the day buckets as they stand.
local function summed()
  local sums = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
  local flat = redis.call("HGETALL", dkey)
  for i = 1, #flat, 2 do
    local field = flat[i]
    local day, metric = string.sub(field, 1, 8), METRIC[string.sub(field, 10)]
    local n = tonumber(flat[i + 1])
    if metric ~= nil and day >= oldest then
      sums[9 + metric] = sums[9 + metric] + n
      if day >= since30 then sums[5 + metric] = sums[5 + metric] + n end
      if day >= since7 then sums[1 + metric] = sums[1 + metric] + n end
    end
  end
  return sums
end

local function reply(status, blob, sums)
  return {status, blob or "", sums, redis.call("HGETALL", ckey)}
end

local blob = redis.call("GET", pkey)
-- An id is remembered for the dedupe window from when it was stored (an id
-- stored without its time, by an older engine, counts as remembered).
local function remembered(value)
  local at = string.match(value, "|([%d.e+-]+)$")
  return at == nil or now - tonumber(at) <= dedupe_ttl
end

local seen = redis.call("HGET", ekey, id)
if seen and remembered(seen) then
  if string.match(seen, "^[^|]*") == digest then
    return reply("dup", blob, want_windows and summed() or {})
  end
  return reply("conflict", blob, want_windows and summed() or {})
end

local p = {}
if blob then p = cmsgpack.unpack(blob) end

local function map(field)
  local value = p[field]
  if type(value) ~= "table" then value = {}; p[field] = value end
  return value
end

-- Today's window sums (p.w), when kept, take every increment of a bucket they cover.
local function count(field, n, day)
  if n == 0 then return end
  day = day or today
  redis.call("HINCRBY", dkey, day .. ":" .. field, n)
  local w = p.w
  if type(w) == "table" and w.d == today and type(w.s) == "table" and day >= oldest then
    local m = METRIC[field]
    w.s[9 + m] = w.s[9 + m] + n
    if day >= since30 then w.s[5 + m] = w.s[5 + m] + n end
    if day >= since7 then w.s[1 + m] = w.s[1 + m] + n end
  end
end

-- The window sums the event answers: today's kept ones, else summed once and kept.
local function windows()
  if not want_windows then return {} end
  local w = p.w
  if type(w) == "table" and w.d == today and type(w.s) == "table" and #w.s == 12 then
    return w.s
  end
  local sums = summed()
  p.w = {d = today, s = sums}
  return sums
end

-- Exposures: rule -> {t = last exposure, g = "t" treated or "c" control, k = last
-- click}, for the attribution of purchases; those past the attribution window
-- (payload.window seconds) are dropped, and only the 50 most recent kept.
local function exposures()
  local x = map("x")
  local window = tonumber(payload.window) or 0
  local kept = {}
  for rule, e in pairs(x) do
    if type(e) ~= "table" or now - (tonumber(e.t) or 0) > window then
      x[rule] = nil
    else
      table.insert(kept, rule)
    end
  end
  if #kept >= 50 then
    table.sort(kept, function(a, b) return x[a].t > x[b].t or (x[a].t == x[b].t and a < b) end)
    for i = 50, #kept do x[kept[i]] = nil end
  end
  return x
end

-- The product ids a visitor bought, newest last, each once; the oldest drop
-- past the last 50 (for recommendations and `purchased_items`).
local PURCHASED_KEPT = 50
-- The shop's tags on a visitor, in the order set; the oldest drop past 50.
local TAGS_KEPT = 50

local function remember_bought(ids)
  local bought = p.purchased
  if type(bought) ~= "table" then bought = {} end
  for _, product in ipairs(ids) do
    if type(product) == "string" then
      for i = #bought, 1, -1 do
        if bought[i] == product then table.remove(bought, i) end
      end
      table.insert(bought, product)
    end
  end
  while #bought > PURCHASED_KEPT do table.remove(bought, 1) end
  if #bought > 0 then p.purchased = bought end
end

-- Tags named in add or remove leave the list; those in add come back at its end.
local function set_tags(add, remove)
  local tags = p.tags
  if type(tags) ~= "table" then tags = {} end
  if type(add) ~= "table" then add = {} end
  if type(remove) ~= "table" then remove = {} end
  local named = {}
  for _, tag in ipairs(remove) do named[tag] = true end
  for _, tag in ipairs(add) do named[tag] = true end
  local kept = {}
  for _, tag in ipairs(tags) do
    if not named[tag] then table.insert(kept, tag) end
  end
  for _, tag in ipairs(add) do table.insert(kept, tag) end
  while #kept > TAGS_KEPT do table.remove(kept, 1) end
  p.tags = kept
end

local function expose(rule, group)
  local x = exposures()
  local previous = x[rule]
  x[rule] = {t = now, g = group}
  if type(previous) == "table" and previous.k then x[rule].k = previous.k end
end

local function cap_of(rule)
  local raw = redis.call("HGET", ckey, rule)
  if raw then return cmsgpack.unpack(raw) end
  return {n = 0, sn = 0, dn = 0}
end

local from_server = kind == "purchase" or kind == "member" or kind == "coupon"
  or kind == "cart_reset" or kind == "tags" or kind == "merge" or kind == "exposure"

-- visits and sessions
if p.first_seen == nil then p.first_seen = now end
if not from_server and (p.last_seen == nil or now - p.last_seen > timeout) then
  p.prev_visit_last_seen = p.last_seen
  p.visit_count = (p.visit_count or 0) + 1
  p.visit_started = now
  p.session_pageviews = 0
  count("v", 1)
  -- A new visit is the moment to drop day buckets past the longest window,
  -- and the ids past the dedupe window (the hash's TTL restarts with every
  -- event, so a regular's would otherwise keep every id ever sent).
  local fields = redis.call("HKEYS", dkey)
  for _, field in ipairs(fields) do
    if string.sub(field, 1, 8) < oldest then redis.call("HDEL", dkey, field) end
  end
  local ids = redis.call("HGETALL", ekey)
  for i = 1, #ids, 2 do
    if not remembered(ids[i + 1]) or not string.find(ids[i + 1], "|", 1, true) then
      redis.call("HDEL", ekey, ids[i])
    end
  end
  if payload.traffic_source then
    for _, field in ipairs({"landing_url", "traffic_source", "utm_source", "utm_medium",
                            "utm_campaign", "device"}) do
      p[field] = payload[field]
    end
    if payload.is_ad then p.ad_visit_count = (p.ad_visit_count or 0) + 1 end
  end
end

if kind == "pageview" then
  p.session_pageviews = (p.session_pageviews or 0) + 1
  p.pageviews_total = (p.pageviews_total or 0) + 1
  count("pv", 1)
  for _, field in ipairs({"page_url", "page_path", "page_type", "product_id", "category",
                          "params"}) do
    p[field] = payload[field]
  end
elseif kind == "cart" then
  -- What this change added (a new product, or more of one): the live counters
  -- count cart additions, not carts.
  local before = {}
  if type(p.cart) == "table" then
    for _, item in ipairs(p.cart) do
      if type(item) == "table" and type(item.product_id) == "string" then
        before[item.product_id] = (before[item.product_id] or 0) + (tonumber(item.qty) or 1)
      end
    end
  end
  local added = {}
  if type(payload.items) == "table" then
    for _, item in ipairs(payload.items) do
      local product = type(item) == "table" and item.product_id
      if type(product) == "string" and (tonumber(item.qty) or 1) > (before[product] or 0) then
        table.insert(added, product)
      end
    end
  end
  p.cart = payload.items
  p.cart_updated_at = now
  p.cart_added = added
elseif kind == "purchase" then
  -- An order counts on the day it was placed (payload.day, from its
  -- ordered_at), which may be before it reached the engine.
  local amount = tonumber(payload.amount) or 0
  local at = tonumber(payload.ordered_at) or now
  local day = payload.day or today
  p.purchase_count = (p.purchase_count or 0) + 1
  p.purchase_total = (p.purchase_total or 0) + amount
  if p.last_purchase_at == nil or at > p.last_purchase_at then p.last_purchase_at = at end
  if type(payload.items) == "table" then
    local ids = {}
    for _, item in ipairs(payload.items) do
      if type(item) == "table" then table.insert(ids, item.product_id) end
    end
    remember_bought(ids)
  end
  if day >= oldest then
    count("pc", 1, day)
    count("pt", amount, day)
  end
elseif kind == "member" then
  p.is_member = true
  if payload.grade then p.member_grade = payload.grade end
  if payload.name then p.member_name = payload.name end
  if payload.signed_up_at and p.signed_up_at == nil then p.signed_up_at = payload.signed_up_at end
elseif kind == "coupon" then
  local coupons = map("coupons")
  if payload.action == "issued" then
    coupons[payload.code] = payload.expires_at
  else
    coupons[payload.code] = nil
  end
elseif kind == "cart_reset" then
  p.cart = {}
  p.cart_updated_at = now
elseif kind == "tags" then
  set_tags(payload.add, payload.remove)
elseif kind == "merge" then
  -- The anonymous profile of a visitor who just proved to be this member:
  -- counts add, coupons and bought products union, the newest cart wins, day
  -- buckets add.
  local a = payload.anon
  for _, field in ipairs({"visit_count", "pageviews_total", "purchase_count", "purchase_total",
                          "ad_visit_count"}) do
    p[field] = (p[field] or 0) + (tonumber(a[field]) or 0)
  end
  if a.first_seen and (p.first_seen == nil or a.first_seen < p.first_seen) then
    p.first_seen = a.first_seen
  end
  if type(a.coupons) == "table" then
    local coupons = map("coupons")
    for code, expiry in pairs(a.coupons) do
      if coupons[code] == nil or expiry > coupons[code] then coupons[code] = expiry end
    end
  end
  if type(a.cart) == "table" and (tonumber(a.cart_updated_at) or 0) > (p.cart_updated_at or 0) then
    p.cart = a.cart
    p.cart_updated_at = a.cart_updated_at
  end
  if type(a.purchased) == "table" then remember_bought(a.purchased) end
  if type(a.tags) == "table" and #a.tags > 0 then
    local mine = {}
    for _, tag in ipairs(type(p.tags) == "table" and p.tags or {}) do mine[tag] = true end
    local new = {}
    for _, tag in ipairs(a.tags) do
      if not mine[tag] then table.insert(new, tag) end
    end
    set_tags(new, {})
  end
  if a.signed_up_at and p.signed_up_at == nil then p.signed_up_at = a.signed_up_at end
  if a.last_purchase_at and (p.last_purchase_at == nil or a.last_purchase_at > p.last_purchase_at) then
    p.last_purchase_at = a.last_purchase_at
  end
  if type(payload.days) == "table" then
    for field, n in pairs(payload.days) do
      if string.sub(field, 1, 8) >= oldest then redis.call("HINCRBY", dkey, field, n) end
    end
    p.w = nil  -- buckets of many days added at once: summed again when next asked
  end
  if type(payload.caps) == "table" then
    for rule, cap in pairs(payload.caps) do
      if redis.call("HEXISTS", ckey, rule) == 0 then
        redis.call("HSET", ckey, rule, cmsgpack.pack(cap))
      end
    end
  end
  if type(a.x) == "table" then
    local x = map("x")
    for rule, e in pairs(a.x) do
      local mine = x[rule]
      if type(e) == "table" and (type(mine) ~= "table" or (tonumber(e.t) or 0) > (tonumber(mine.t) or 0)) then
        x[rule] = e
      end
    end
  end
  if (tonumber(a.last_seen) or 0) >= (p.last_seen or 0) then
    -- The session in progress is the anonymous one.
    for _, field in ipairs({"visit_started", "session_pageviews", "prev_visit_last_seen",
                            "landing_url", "traffic_source", "utm_source", "utm_medium",
                            "utm_campaign", "device", "page_url", "page_path", "page_type",
                            "product_id", "category", "params", "last_seen"}) do
      p[field] = a[field]
    end
  end
  p.is_member = true
elseif kind == "identify" then
  -- The caller merges this anonymous profile into the member's once.
  p.merge_needed = p.member_id ~= payload.member_id
  p.member_id = payload.member_id
elseif kind == "exposure" then
  for rule, group in pairs(payload.rules) do expose(rule, group) end
elseif kind == "report" and payload.what == "shown" then
  expose(payload.rule, payload.group or "t")
  local cap = cap_of(payload.rule)
  cap.n = (cap.n or 0) + 1
  if cap.s == p.visit_count then cap.sn = (cap.sn or 0) + 1 else cap.s = p.visit_count; cap.sn = 1 end
  if cap.d == today then cap.dn = (cap.dn or 0) + 1 else cap.d = today; cap.dn = 1 end
  local times = cap.t
  if type(times) ~= "table" then times = {} end
  table.insert(times, now)
  while #times > 50 do table.remove(times, 1) end
  cap.t = times
  redis.call("HSET", ckey, payload.rule, cmsgpack.pack(cap))
  local f = map("fatigue")
  if f.s == p.visit_count then f.sn = (f.sn or 0) + 1 else f.s = p.visit_count; f.sn = 1 end
  if f.d == today then f.dn = (f.dn or 0) + 1 else f.d = today; f.dn = 1 end
  f.t = now
elseif kind == "report" then
  if payload.what == "clicked" then
    local e = exposures()[payload.rule]
    if type(e) == "table" then e.k = now end
  end
  if payload.stop then
    local cap = cap_of(payload.rule)
    cap.stop = true
    redis.call("HSET", ckey, payload.rule, cmsgpack.pack(cap))
  end
end

if not from_server then p.last_seen = now end

local sums = windows()
blob = cmsgpack.pack(p)
redis.call("SET", pkey, blob, "EX", ttl)
redis.call("HSET", ekey, id, digest .. "|" .. ARGV[4])
redis.call("EXPIRE", ekey, dedupe_ttl)
redis.call("EXPIRE", dkey, ttl)
redis.call("EXPIRE", ckey, ttl)
return reply("new", blob, sums)
