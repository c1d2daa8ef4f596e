// Events not yet acknowledged by the engine: kept (in sessionStorage when it
// works) and resent after a reconnect, so nothing is lost; the engine drops
// duplicates by id.
import { LIMITS } from "./protocol.js";

const KEY = "ondo.outbox";
const MAX = 200;

export class Outbox {
  constructor(storage) {
    this.storage = storage;
    this.events = [];
    try {
      const saved = storage && JSON.parse(storage.getItem(KEY) || "[]");
      if (Array.isArray(saved)) this.events = saved.slice(-MAX);
    } catch (_) {
      this.events = [];
    }
  }

  add(event) {
    this.events.push(event);
    if (this.events.length > MAX) this.events.shift();
    this.save();
  }

  ack(id) {
    const before = this.events.length;
    this.events = this.events.filter((e) => e.id !== id);
    if (this.events.length !== before) this.save();
  }

  pending() {
    return this.events.slice();
  }

  // The body of a beacon for what is pending, within what the engine takes
  // (LIMITS.event_burst events, LIMITS.beacon_bytes of UTF-8): the oldest
  // events first; the rest stay here for the next page's socket. "" if none.
  beacon(site, visitor) {
    let events = this.events.slice(0, LIMITS.event_burst);
    while (events.length) {
      const body = JSON.stringify({ site, visitor, events });
      if (new TextEncoder().encode(body).length <= LIMITS.beacon_bytes) return body;
      events = events.slice(0, -1);
    }
    return "";
  }

  save() {
    try {
      if (this.storage) this.storage.setItem(KEY, JSON.stringify(this.events));
    } catch (_) {
      /* storage full or blocked: keep them in memory */
    }
  }
}
