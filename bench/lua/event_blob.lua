--[[
Benchmark-only: the first design, the whole profile (day buckets and caps
included) as one msgpack blob; kept to compare encodings (bench/store_encoding.py).
Apply one visitor event to the stored profile, at most once. One call per
event; every key shares the visitor's hash tag, so this touches one slot.

KEYS[1]  ondo:{SITE:VISITOR}:p   the stored profile (a msgpack map, docs/storage.md)
KEYS[2]  ondo:{SITE:VISITOR}:e   hash: event id -> content hash (dedupe window)
ARGV[1]  event id
ARGV[2]  content hash of the event (same id + other content = conflict)
ARGV[3]  kind: pageview | cart | signal | track | identify | report | merge, or from the
         shop's server: purchase | member | coupon | cart_reset (these never start a visit)
ARGV[4]  now, epoch seconds
ARGV[5]  session timeout, seconds (a new visit starts after this much silence)
ARGV[6]  today's day key YYYYMMDD in the site's time zone
ARGV[7]  oldest day key to keep in the day buckets
ARGV[8]  payload: a msgpack map whose fields depend on the kind
ARGV[9]  profile time to live, seconds
ARGV[10] dedupe window, seconds

Returns {status, profile}: status "new" (applied), "dup" (already applied:
no effect) or "conflict" (id reused with other content: no effect).
]]

local pkey, ekey = KEYS[1], KEYS[2]
local id, digest, kind = ARGV[1], ARGV[2], ARGV[3]
local now, timeout = tonumber(ARGV[4]), tonumber(ARGV[5])
local today, oldest = ARGV[6], ARGV[7]
local payload = cmsgpack.unpack(ARGV[8])
local ttl, dedupe_ttl = tonumber(ARGV[9]), tonumber(ARGV[10])

local blob = redis.call("GET", pkey)
local seen = redis.call("HGET", ekey, id)
if seen then
  if seen == digest then
    return {"dup", blob or ""}
  end
  return {"conflict", blob or ""}
end

local p = {}
if blob then p = cmsgpack.unpack(blob) end

local function map(field)
  local value = p[field]
  if type(value) ~= "table" then value = {}; p[field] = value end
  return value
end

local function bucket()
  local days = map("days")
  local b = days[today]
  if type(b) ~= "table" then b = {v = 0, pv = 0, pc = 0, pt = 0}; days[today] = b end
  return b
end

local from_server = kind == "purchase" or kind == "member" or kind == "coupon"
  or kind == "cart_reset" or kind == "merge"

-- visits and sessions
if p.first_seen == nil then p.first_seen = now end
if not from_server and (p.last_seen == nil or now - p.last_seen > timeout) then
  p.prev_visit_last_seen = p.last_seen
  p.visit_count = (p.visit_count or 0) + 1
  p.visit_started = now
  p.session_pageviews = 0
  local b = bucket()
  b.v = b.v + 1
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
  local b = bucket()
  b.pv = b.pv + 1
  for _, field in ipairs({"page_url", "page_path", "page_type", "product_id", "category",
                          "params"}) do
    p[field] = payload[field]
  end
elseif kind == "cart" then
  p.cart = payload.items
  p.cart_updated_at = now
elseif kind == "purchase" then
  local amount = tonumber(payload.amount) or 0
  p.purchase_count = (p.purchase_count or 0) + 1
  p.purchase_total = (p.purchase_total or 0) + amount
  p.last_purchase_at = now
  local b = bucket()
  b.pc = b.pc + 1
  b.pt = b.pt + amount
elseif kind == "member" then
  p.is_member = true
  if payload.grade then p.member_grade = payload.grade end
  if payload.name then p.member_name = payload.name end
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
elseif kind == "merge" then
  -- The anonymous profile of a visitor who just proved to be this member:
  -- counts add, coupons union, the newest cart wins, day buckets add.
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
  if type(a.days) == "table" then
    local days = map("days")
    for day, b in pairs(a.days) do
      local mine = days[day]
      if type(mine) ~= "table" then mine = {v = 0, pv = 0, pc = 0, pt = 0}; days[day] = mine end
      for _, f in ipairs({"v", "pv", "pc", "pt"}) do mine[f] = (mine[f] or 0) + (b[f] or 0) end
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
elseif kind == "report" and payload.what == "shown" then
  local caps = map("caps")
  local cap = caps[payload.rule]
  if type(cap) ~= "table" then cap = {n = 0, sn = 0, dn = 0}; caps[payload.rule] = cap end
  cap.n = (cap.n or 0) + 1
  if cap.s == p.visit_count then cap.sn = (cap.sn or 0) + 1 else cap.s = p.visit_count; cap.sn = 1 end
  if cap.d == today then cap.dn = (cap.dn or 0) + 1 else cap.d = today; cap.dn = 1 end
  local times = cap.t
  if type(times) ~= "table" then times = {} end
  table.insert(times, now)
  while #times > 50 do table.remove(times, 1) end
  cap.t = times
  local f = map("fatigue")
  if f.s == p.visit_count then f.sn = (f.sn or 0) + 1 else f.s = p.visit_count; f.sn = 1 end
  if f.d == today then f.dn = (f.dn or 0) + 1 else f.d = today; f.dn = 1 end
  f.t = now
elseif kind == "report" and payload.stop then
  local caps = map("caps")
  local cap = caps[payload.rule]
  if type(cap) ~= "table" then cap = {n = 0, sn = 0, dn = 0}; caps[payload.rule] = cap end
  cap.stop = true
end

-- drop day buckets past the longest window
if type(p.days) == "table" then
  for day, _ in pairs(p.days) do
    if day < oldest then p.days[day] = nil end
  end
end
if not from_server then p.last_seen = now end

blob = cmsgpack.pack(p)
redis.call("SET", pkey, blob, "EX", ttl)
redis.call("HSET", ekey, id, digest)
redis.call("EXPIRE", ekey, dedupe_ttl)
return {"new", blob}
