import test from "node:test";
import assert from "node:assert/strict";
import { safeLink } from "../src/links.js";

const page = "https://shop.example.com/product/1003";

test("a link without a scheme stays on the shop, however its slashes lean", () => {
  // A browser reads "\" as "/" before the query: each of these starts a host.
  for (const away of ["/\\evil.example/phish", "\\/evil.example/phish",
    "\\\\evil.example/phish", "//evil.example/phish", "/\\/evil.example"]) {
    assert.equal(safeLink(away, page), null, away);
  }
  assert.equal(safeLink("/coupon?code=A\\B", page), "https://shop.example.com/coupon?code=A\\B");
  assert.equal(safeLink("?tab=review", page), "https://shop.example.com/product/1003?tab=review");
  assert.equal(safeLink("1004", page), "https://shop.example.com/product/1004");
});

test("an http(s) address goes where it says, on the shop or off it", () => {
  assert.equal(safeLink("https://brand.example/lookbook", page), "https://brand.example/lookbook");
  assert.equal(safeLink("http://shop.example.com/sale", page), "http://shop.example.com/sale");
});

test("tabs and newlines, which a browser would drop, are never read past", () => {
  for (const hidden of ["/\t/evil.example", "/\n/evil.example", "java\nscript:alert(1)"]) {
    assert.equal(safeLink(hidden, page), null, JSON.stringify(hidden));
  }
});
