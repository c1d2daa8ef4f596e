--[[
Count one console sign-in attempt within its window (engine/http/auth.py),
atomically: the first attempt of a window sets the window's expiry, and a
counter left without one (an older engine's) gets it too.

KEYS[1]  ondo:console:a:KEY   string: attempts in the current window
ARGV[1]  the window, whole seconds

Returns the attempts counted in the window, this one included.
]]

local n = redis.call("INCR", KEYS[1])
redis.call("EXPIRE", KEYS[1], ARGV[1], "NX")
return n
