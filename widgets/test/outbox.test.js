import test from "node:test";
import assert from "node:assert/strict";
import { Outbox } from "../src/outbox.js";

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
