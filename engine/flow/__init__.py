"""One event's way through the engine, whatever door it came in by (socket, beacon,
server event): derivation (page, traffic source, device), identity, the store call,
the match, the delivery decision, the counters. No HTTP, no Redis: it talks to the
store through ``engine.store.base.Store``."""
