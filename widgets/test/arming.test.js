import test from "node:test";
import assert from "node:assert/strict";
import { armed, exitIntent, scrollReached, MIN_DWELL_MS } from "../src/arming.js";

test("delay, scroll and idle arm an action", () => {
  const base = { sinceLoad: 0, scrolled: false, idle: 0, exited: false };
  assert.equal(armed({}, base), true);
  assert.equal(armed({ delay: 5 }, { ...base, sinceLoad: 4000 }), false);
  assert.equal(armed({ delay: 5 }, { ...base, sinceLoad: 5000 }), true);
  assert.equal(armed({ scroll: 50 }, base), false);
  assert.equal(armed({ idle: 10 }, { ...base, idle: 10000 }), true);
});

test("scroll depth is measured against the scrollable height", () => {
  assert.equal(scrollReached(50, 500, 1000, 2000), true);
  assert.equal(scrollReached(50, 400, 1000, 2000), false);
});

test("exit intent: top edge or fast scroll up, after the dwell, never after a link click", () => {
  const later = MIN_DWELL_MS + 1;
  assert.equal(exitIntent({ kind: "mouseout", y: -1, sinceLoad: later, sinceLinkClick: null }), true);
  assert.equal(exitIntent({ kind: "mouseout", y: 300, sinceLoad: later, sinceLinkClick: null }), false);
  assert.equal(exitIntent({ kind: "mouseout", y: -1, sinceLoad: 1000, sinceLinkClick: null }), false);
  assert.equal(exitIntent({ kind: "mouseout", y: -1, sinceLoad: later, sinceLinkClick: 200 }), false);
  assert.equal(exitIntent({ kind: "scroll", velocity: -3, sinceLoad: later, sinceLinkClick: null }), true);
  assert.equal(exitIntent({ kind: "scroll", velocity: 2, sinceLoad: later, sinceLinkClick: null }), false);
});
