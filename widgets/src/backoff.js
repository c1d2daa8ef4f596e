// Reconnect delays: full jitter, random(0, min(cap, base * 2^attempt)).
import { BACKOFF } from "./protocol.js";

export function backoffDelay(attempt, random = Math.random, base = BACKOFF.base_ms, cap = BACKOFF.cap_ms) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
