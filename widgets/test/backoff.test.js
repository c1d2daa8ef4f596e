import test from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../src/backoff.js";

test("full jitter grows with attempts and is capped", () => {
  assert.equal(backoffDelay(0, () => 0.999999, 500, 30000), 499);
  assert.equal(backoffDelay(3, () => 0.5, 500, 30000), 2000);
  assert.equal(backoffDelay(20, () => 0.999999, 500, 30000), 29999);
  assert.equal(backoffDelay(5, () => 0, 500, 30000), 0);
});
