import test from "node:test";
import assert from "node:assert/strict";
import { parseAmount, profileFromForm, profileFromJson } from "../src/sample.js";

test("amounts as a Korean marketer writes them", () => {
  assert.equal(parseAmount("300000"), 300000);
  assert.equal(parseAmount("300,000"), 300000);
  assert.equal(parseAmount("300_000원"), 300000);
  assert.equal(parseAmount("30만"), 300000);
  assert.equal(parseAmount("1.5만"), 15000);
  assert.equal(parseAmount("5천"), 5000);
  assert.equal(parseAmount("2억"), 200000000);
  assert.ok(Number.isNaN(parseAmount("many")));
});

test("the form gives a profile of the fields filled in, typed", () => {
  const { profile } = profileFromForm({ visit_count: "12", session_pageviews: "", is_member: "true",
    purchase_total: "35만", cart_total: "", page_path: " /product/1001 ", traffic_source: "naver_ads", device: "" });
  assert.deepEqual(profile, { visit_count: 12, is_member: true, purchase_total: 350000,
    page_path: "/product/1001", traffic_source: "naver_ads" });
  assert.deepEqual(profileFromForm({ is_member: "false" }).profile, { is_member: false });
  assert.deepEqual(profileFromForm({ visit_count: "three" }).error,
    { key: "explain.numberInvalid", params: { name: "visit_count" } });
});

test("raw JSON must be an object", () => {
  assert.deepEqual(profileFromJson('{"visit_count": 3, "tags": ["vip"]}').profile, { visit_count: 3, tags: ["vip"] });
  assert.deepEqual(profileFromJson("").profile, {});
  assert.equal(profileFromJson("[1]").error.key, "explain.jsonObject");
  assert.equal(profileFromJson("{visit_count: 3}").error.key, "explain.jsonInvalid");
});
