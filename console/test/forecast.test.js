import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ApiError, createApi } from "../src/api.js";
import { LOST, WINDOWS, byHour, forecastError, forecastSummary, hourBars, lostKey, ruleRows,
  takenRows } from "../src/forecast.js";
import { MESSAGES, translator } from "../src/messages.js";
import { REASONS } from "../src/stats.js";

const hours = (at) => Array.from({ length: 24 }, (_, h) => at[h] || 0);

// An answer as the engine gives it: a live file with `thanks`, a draft that
// adds `summer-sale` above it and drops `old-banner`.
const ANSWER = {
  site: "demo-shop", timezone: "Asia/Seoul", window: { since: 1_764_720_000, until: 1_764_806_400 },
  recording: { entries: 420, first: 1_764_720_100, last: 1_764_806_000 }, elapsed_seconds: 1.234,
  live_version: "0123456789abcdef", events: 300, reports: 100, purchases: 20, visitors: 120,
  first: 1_764_720_100, last: 1_764_806_000, sent: { live: 90, draft: 140 }, changed_events: 95, fatigued: 3,
  rules: [
    { rule: "summer-sale", new: true, matched: 150, matched_visitors: 100, shown: 140, shown_visitors: 95,
      matched_by_hour: hours({ 9: 100, 21: 50 }), shown_by_hour: hours({ 9: 90, 21: 50 }),
      outcomes: { shown: 140, fatigued: 3, capped: 7 }, lost_to: {}, buyers: 12, revenue: 480000 },
    { rule: "thanks", new: false, matched: 150, matched_visitors: 100, shown: 0, shown_visitors: 0,
      matched_by_hour: hours({ 9: 100, 21: 50 }), shown_by_hour: hours({}),
      outcomes: { held_out: 60, lost_to: 90 }, lost_to: { "summer-sale": 90 }, buyers: 0, revenue: 0 },
  ],
  live_rules: [
    { rule: "old-banner", in_draft: false, sent: 10, kept: 0, lost: 10, taken_by: {},
      lost_for: { not_in_draft: 10 } },
    { rule: "steady", in_draft: true, sent: 5, kept: 5, lost: 0, taken_by: {}, lost_for: {} },
    { rule: "thanks", in_draft: true, sent: 75, kept: 0, lost: 75, taken_by: { "summer-sale": 70 },
      lost_for: { not_matched: 2, capped: 3 } },
  ],
  buyers_note: "buyers: visitors the rule was shown to who bought within the attribution window after; "
    + "a baseline, not a causal estimate",
  unreadable: 0,
};

test("the summary line's figures and the window", () => {
  assert.deepEqual(forecastSummary(ANSWER), {
    events: 300, visitors: 120, live: 90, draft: 140, changed: 95, fatigued: 3, unreadable: 0,
    since: 1_764_720_000, until: 1_764_806_400, liveVersion: "0123456789abcdef",
  });
  const empty = forecastSummary({});
  assert.equal(empty.events, 0);
  assert.equal(empty.since, null);
  assert.equal(empty.liveVersion, "");
});

test("one row per rule of the draft, in file order, with why it was not shown", () => {
  const [sale, thanks] = ruleRows(ANSWER);
  assert.equal(sale.rule, "summer-sale");
  assert.equal(sale.isNew, true);
  assert.deepEqual([sale.matchedVisitors, sale.shown, sale.shownVisitors, sale.buyers, sale.revenue],
    [100, 140, 95, 12, 480000]);
  assert.deepEqual(sale.lostTo, []);
  assert.deepEqual(sale.reasons, [{ reason: "capped", n: 7 }, { reason: "fatigued", n: 3 }]);
  assert.equal(sale.hours.length, 24);
  assert.equal(sale.hours[9], 90);
  assert.equal(thanks.isNew, false);
  assert.deepEqual(thanks.lostTo, [{ rule: "summer-sale", n: 90 }]);
  assert.deepEqual(thanks.reasons, [{ reason: "held_out", n: 60 }], "lost_to is listed per rule, not twice");
  assert.deepEqual(ruleRows({}), []);
});

test("what the draft takes: live rules that lose sends, by whom and why", () => {
  const rows = takenRows(ANSWER);
  assert.deepEqual(rows.map((r) => r.rule), ["old-banner", "thanks"], "a rule that keeps all is left out");
  const [banner, thanks] = rows;
  assert.equal(banner.inDraft, false);
  assert.deepEqual(banner.lostFor, [{ reason: "not_in_draft", n: 10 }]);
  assert.deepEqual([thanks.sent, thanks.kept, thanks.lost], [75, 0, 75]);
  assert.deepEqual(thanks.takenBy, [{ rule: "summer-sale", n: 70 }]);
  assert.deepEqual(thanks.lostFor, [{ reason: "capped", n: 3 }, { reason: "not_matched", n: 2 }]);
});

test("by-hour bars: 24 hours, heights relative to the busiest", () => {
  assert.deepEqual(byHour([1, 2]), [1, 2, ...Array(22).fill(0)]);
  assert.deepEqual(byHour(undefined), Array(24).fill(0));
  const bars = hourBars(hours({ 9: 90, 21: 45 }));
  assert.equal(bars.length, 24);
  assert.deepEqual(bars[9], { hour: 9, n: 90, height: 100 });
  assert.deepEqual(bars[21], { hour: 21, n: 45, height: 50 });
  assert.equal(bars[0].height, 0);
  assert.ok(hourBars([]).every((b) => b.height === 0));
});

test("every message the panel can ask for exists, in both languages", () => {
  const keys = [...WINDOWS.map((w) => `forecast.window.${w}`), ...[...REASONS, ...LOST].map(lostKey)];
  const source = readFileSync(new URL("../src/forecast.js", import.meta.url), "utf8");
  for (const m of source.matchAll(/"((?:forecast|editor)\.[\w.]+)"/g)) keys.push(m[1]);
  assert.ok(keys.includes("forecast.spanNoLive") && keys.includes("forecast.lost.not_in_draft"));
  for (const key of keys) {
    assert.ok(key in MESSAGES.ko, `ko ${key}`);
    assert.ok(key in MESSAGES.en, `en ${key}`);
  }
  assert.equal(lostKey("capped"), "reason.capped");
  assert.equal(lostKey("not_matched"), "forecast.lost.not_matched");
});

test("a forecast that did not run says why, with the engine's words", () => {
  const t = translator("en");
  const said = (status, body) => forecastError(t, new ApiError(status, body));
  const gap = "the window holds no recorded traffic; the recording covers 1 to 2 (epoch seconds)";
  assert.equal(said(422, { error: gap, field: "since" }), `Cannot forecast this window: ${gap}`);
  assert.match(said(413, { error: "more than 5,000,000", field: "since" }), /shorter one\. \(more than 5,000,000\)$/);
  assert.match(said(429, { error: "1 forecast(s) running", field: "site" }), /already running.*\(1 forecast\(s\) running\)/);
  assert.match(said(503, { error: "storage unavailable; try again", field: "storage" }), /^Storage is unavailable/);
  assert.equal(said(422, { error: "the file is for site 'x'", field: "site" }),
    "The request failed: the file is for site 'x'");
  assert.equal(forecastError(t, new ApiError(0, { error: "Failed to fetch", field: "network" })),
    t("error.network"));
});

test("forecast posts the draft with the window and the CSRF token; 422 is an answer", async () => {
  const calls = [];
  const replies = [[200, { site: "demo-shop", csrf: "csrf-1", timezone: "Asia/Seoul" }], [200, ANSWER],
    [422, { error: "the draft has errors", field: "body", errors: [{ line: 3, column: 9, message: "x" }],
      warnings: [] }],
    [429, { error: "busy", field: "site" }]];
  const fetchImpl = async (url, init) => {
    calls.push({ url, ...init });
    const [status, body] = replies.shift();
    return { ok: status < 300, status, headers: { get: () => "application/json" }, json: async () => body };
  };
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  const done = await api.forecast("site: demo-shop\n", "24h");
  assert.equal(done.status, 200);
  assert.equal(done.data.rules[0].rule, "summer-sale");
  assert.equal(calls[1].method, "POST");
  assert.equal(calls[1].url, "/v1/sites/demo-shop/rules/forecast?since=24h");
  assert.equal(calls[1].body, "site: demo-shop\n");
  assert.match(calls[1].headers["Content-Type"], /yaml/);
  assert.equal(calls[1].headers["X-CSRF-Token"], "csrf-1");
  const refused = await api.forecast("x", "7d");
  assert.equal(refused.status, 422);
  assert.equal(refused.data.errors[0].line, 3);
  assert.equal(calls[2].url, "/v1/sites/demo-shop/rules/forecast?since=7d");
  await assert.rejects(api.forecast("x", "24h"), (e) => e.status === 429 && e.field === "site");
});

test("a forecast stopped at its time or memory budget says which, with the engine's words", () => {
  const t = translator("ko");
  const said = (status, body) => forecastError(t, new ApiError(status, body));
  const late = "the forecast took longer than 300 s (the limit forecast_seconds): forecast a shorter window";
  assert.equal(said(422, { error: late, field: "since", limit: "forecast_seconds" }),
    `예측이 시간 한도를 넘어 중단되었습니다. 더 짧은 기간을 고르세요. (${late})`);
  const big = "the forecast needed more than 1,024 MiB of memory (the limit forecast_memory): …";
  assert.match(said(413, { error: big, field: "since", limit: "forecast_memory" }), /^예측에 필요한 메모리가 한도를/);
  assert.match(said(413, { error: "more than 5,000,000", field: "since", limit: "forecast_entries" }),
    /^이 기간의 기록이 너무 많습니다/);
});

test("forecast hands its abort signal to fetch: aborting it closes the request", async () => {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push(init);
    if (url === "/admin/session") {
      return { ok: true, status: 200, headers: { get: () => "application/json" },
        json: async () => ({ site: "demo-shop", csrf: "c" }) };
    }
    // As a browser does: an aborted fetch rejects with an AbortError.
    return new Promise((_, reject) => init.signal.addEventListener("abort", () => {
      reject(new DOMException("The operation was aborted.", "AbortError"));
    }));
  };
  const api = createApi({ fetchImpl });
  await api.signIn("demo-shop", "t");
  const controller = new AbortController();
  const pending = api.forecast("site: demo-shop\n", "24h", undefined, controller.signal);
  controller.abort();
  await assert.rejects(pending, (e) => e.status === 0);
  assert.equal(calls[1].signal, controller.signal);
});
