--[[
Append entries to a site's recording for forecasts (docs/forecast.md), and
keep it within its age, its number of entries and its bytes.

KEYS[1]  ondo:{SITE}:rec           stream: one entry per recorded event, fields
                                   e (the entry, msgpack) and o (its end offset)
KEYS[2]  ondo:{SITE}:rec:layouts   hash: layout id -> its attribute names (JSON)
ARGV[1]  the entries' layout id
ARGV[2]  its attribute names (JSON)
ARGV[3]  the most entries kept (trimmed approximately: whole nodes of ~100)
ARGV[4]  the oldest time kept, ms (trimmed approximately too)
ARGV[5]  the most bytes kept (0: no byte budget)
ARGV[6]  the bytes kept when the budget is passed (below ARGV[5]: trimming is rare)
ARGV[7]  what an entry weighs beside its blob (engine/store/base.py ENTRY_OVERHEAD)
ARGV[8], ARGV[9], ...  pairs of (time in ms, entry)

Each entry's id starts with its own time, so a forecast reads a window by
id. Engine nodes' clocks differ by a few ms and a stream's ids only grow:
an entry older than the newest is filed at the newest's ms.

Bytes: each entry carries ``o``, the bytes appended to the recording up to
and including it (its blob plus ARGV[7] each). The newest entry's ``o`` is
everything ever appended; an entry starts at ``o`` less its own weight; the
recording weighs everything appended less where its oldest entry starts.
Past ARGV[5], the oldest entries go, exactly, until what is left weighs at
most ARGV[6] (the newest entry always stays): the first entry to keep is
found by a binary search on ids with XRANGE ... COUNT 1 (on its time in ms,
then on its sequence number within that ms), and XTRIM MINID drops the rest.

Both keys expire when their newest entry would leave the days kept (in the
newest entry's time less ARGV[4], from now): a recording no one appends to
holds nothing worth keeping by then, and a key with a time to live is one
Redis may evict when its memory is short (docs/storage.md).

Returns the number of entries appended.
]]

local stream, layouts = KEYS[1], KEYS[2]
local cap, oldest_kept = ARGV[3], tonumber(ARGV[4])
local budget, trim_to, overhead = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('HSETNX', layouts, ARGV[1], ARGV[2])

local function field(entry, name)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

-- Where an entry starts in the bytes ever appended (an entry recorded before
-- entries carried offsets counts as starting at 0: such entries go first).
local function start(entry)
  local o = tonumber(field(entry, 'o'))
  if o == nil then return 0 end
  return o - #(field(entry, 'e') or '') - overhead
end

local function ms_of(entry_id)
  return tonumber(string.match(entry_id, '^(%d+)'))
end

local total, last = 0, 0
local top = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
if top then
  last = ms_of(top[1])
  total = tonumber(field(top, 'o')) or 0
end
for i = 8, #ARGV, 2 do
  local ms = math.floor(tonumber(ARGV[i]))
  if ms < last then ms = last end
  last = ms
  total = total + #ARGV[i + 1] + overhead
  redis.call('XADD', stream, 'MAXLEN', '~', cap, string.format('%.0f', ms) .. '-*',
             'e', ARGV[i + 1], 'o', string.format('%.0f', total))
end
redis.call('XTRIM', stream, 'MINID', '~', ARGV[4])

local oldest = budget > 0 and redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
if oldest and total - start(oldest) > budget then
  local target = total - trim_to  -- the first entry kept starts here or later
  local function keeps(entry_id)  -- whether the entries from entry_id on fit
    local entry = redis.call('XRANGE', stream, entry_id, '+', 'COUNT', 1)[1]
    return entry == nil or start(entry) >= target
  end
  -- keeps(lo) is false (the oldest entry's ms), keeps(hi) true (past the newest).
  local lo, hi = ms_of(oldest[1]), last + 1
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if keeps(string.format('%.0f-0', mid)) then hi = mid else lo = mid end
  end
  -- The first entry to keep is in ms lo (after its first) or is hi's first.
  local prefix = string.format('%.0f-', lo)
  local last_of_lo = redis.call('XREVRANGE', stream, string.format('(%.0f-0', hi), '-',
                                'COUNT', 1)[1]
  local seq_lo, seq_hi = 0, tonumber(string.match(last_of_lo[1], '-(%d+)$')) + 1
  while seq_hi - seq_lo > 1 do
    local mid = math.floor((seq_lo + seq_hi) / 2)
    if keeps(prefix .. string.format('%.0f', mid)) then seq_hi = mid else seq_lo = mid end
  end
  local kept = redis.call('XRANGE', stream, prefix .. string.format('%.0f', seq_hi), '+',
                          'COUNT', 1)[1]
    or redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]  -- the newest stays
  redis.call('XTRIM', stream, 'MINID', kept[1])
end

if last > 0 then
  local ttl = string.format('%.0f', math.max(1000, last - oldest_kept))
  redis.call('PEXPIRE', stream, ttl)
  redis.call('PEXPIRE', layouts, ttl)
end
return (#ARGV - 7) / 2
