// Events not yet acknowledged by the engine: kept (in sessionStorage when it
// works) and resent after a reconnect, so nothing is lost; the engine drops
// duplicates by id.
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

  save() {
    try {
      if (this.storage) this.storage.setItem(KEY, JSON.stringify(this.events));
    } catch (_) {
      /* storage full or blocked: keep them in memory */
    }
  }
}
