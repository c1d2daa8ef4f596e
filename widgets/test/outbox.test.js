import test from "node:test";
import assert from "node:assert/strict";
import { Outbox } from "../src/outbox.js";
import { LIMITS } from "../src/protocol.js";

function memory() {
  const data = new Map();
  return { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, String(v)) };
}

test("unacknowledged events survive a reload and leave on ack", () => {
  const store = memory();
  const box = new Outbox(store);
  box.add({ id: "a" });
  box.add({ id: "b" });
  box.ack("a");
  const reloaded = new Outbox(store);
  assert.deepEqual(reloaded.pending(), [{ id: "b" }]);
});

test("works without storage and stays bounded", () => {
  const box = new Outbox(null);
  for (let i = 0; i < 250; i++) box.add({ id: String(i) });
  assert.equal(box.pending().length, 200);
  assert.equal(box.pending()[0].id, "50");
});

test("a beacon carries what the engine takes: the oldest events, at most a burst, within its bytes", () => {
  const box = new Outbox(null);
  for (let i = 0; i < 120; i++) box.add({ id: `e${i}`, t: "event", kind: "pageview", data: { url: "/p" } });
  const body = JSON.parse(box.beacon("demo-shop", "visitor-0001"));
  assert.equal(body.events.length, LIMITS.event_burst);
  assert.equal(body.events[0].id, "e0");
  assert.equal(box.pending().length, 120, "kept for the next page's socket until acknowledged");

  const heavy = new Outbox(null);
  const title = "가".repeat(2000); // 6,000 bytes of UTF-8 each
  for (let i = 0; i < 30; i++) heavy.add({ id: `h${i}`, t: "event", kind: "pageview", data: { url: "/p", title } });
  const sent = heavy.beacon("demo-shop", "visitor-0001");
  assert.ok(new TextEncoder().encode(sent).length <= LIMITS.beacon_bytes);
  assert.equal(JSON.parse(sent).events.length, 10);
  assert.equal(new Outbox(null).beacon("demo-shop", "visitor-0001"), "");
});
