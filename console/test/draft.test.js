import test from "node:test";
import assert from "node:assert/strict";
import { clearDraft, loadDraft, saveDraft } from "../src/draft.js";

function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
  };
}

test("a draft is kept per site, with the version it started from, and nothing else", () => {
  const storage = memoryStorage();
  saveDraft(storage, "demo-shop", "site: demo-shop\n", "abc");
  saveDraft(storage, "other", "site: other\n", "");
  assert.deepEqual(loadDraft(storage, "demo-shop"), { text: "site: demo-shop\n", base: "abc" });
  assert.deepEqual([...storage.items.keys()].sort(), ["ondo.console.draft.demo-shop", "ondo.console.draft.other"]);
  clearDraft(storage, "demo-shop");
  assert.equal(loadDraft(storage, "demo-shop"), null);
  assert.equal(loadDraft(storage, "other").text, "site: other\n");
});

test("no storage, a full one or a damaged entry never breaks the editor", () => {
  assert.equal(loadDraft(null, "demo-shop"), null);
  saveDraft(null, "demo-shop", "x", "");
  const full = { ...memoryStorage(), setItem: () => { throw new Error("QuotaExceededError"); } };
  saveDraft(full, "demo-shop", "x", "");
  const broken = memoryStorage();
  broken.setItem("ondo.console.draft.demo-shop", "{not json");
  assert.equal(loadDraft(broken, "demo-shop"), null);
});
