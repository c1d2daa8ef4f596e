"""Storage behind one interface (``base.Store``): the Redis implementation (one Lua
call per event, pipelined), an in-memory one for fast tests, rule versions and the
announcements between nodes. The only layer that imports redis."""
