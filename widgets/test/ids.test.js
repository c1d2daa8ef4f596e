import test from "node:test";
import assert from "node:assert/strict";
import { visitorId } from "../src/ids.js";
import { safeLink } from "../src/links.js";

test("the visitor id persists in localStorage, with a cookie fallback", () => {
  const data = new Map();
  const store = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v) };
  const doc = { cookie: "" };
  const first = visitorId(store, doc, () => "abcdef0123456789");
  assert.equal(first, "abcdef0123456789");
  assert.equal(visitorId(store, doc, () => "other-id-000000"), first);
  assert.equal(visitorId(null, { cookie: "x=1; ondo_vid=fromcookie01" }, () => "n"), "fromcookie01");
});

test("a stored id the engine would refuse is replaced", () => {
  const data = new Map([["ondo_vid", "m:member-0001"]]);
  const store = { getItem: (k) => data.get(k) ?? null, setItem: (k, v) => data.set(k, v) };
  assert.equal(visitorId(store, { cookie: "" }, () => "fresh-id-0001"), "fresh-id-0001");
  assert.equal(visitorId(null, { cookie: "ondo_vid=m:member-0001" }, () => "fresh-id-0002"),
    "fresh-id-0002");
});

test("only http(s) and relative links survive", () => {
  const base = "https://shop.example.com/a";
  assert.equal(safeLink("/join", base), "https://shop.example.com/join");
  assert.equal(safeLink("https://x.kr/p?q=1", base), "https://x.kr/p?q=1");
  for (const bad of ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x",
    "//evil.io/x", "vbscript:x", "java\u0000script:x", ""]) {
    assert.equal(safeLink(bad, base), null, bad);
  }
});
