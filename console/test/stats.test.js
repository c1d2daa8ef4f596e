import test from "node:test";
import assert from "node:assert/strict";
import { dailySeries, intervalLayout, mainPeriod, notShownBreakdown, overviewRows, ruleFigures } from "../src/stats.js";

const period = (share, t, c, extra = {}) => ({ share, treated: { visitors: t, conversions: t ? 2 : 0 },
  control: { visitors: c }, verdict: "not_enough_data", ...extra });

test("daily series cover every day of the range, summing the treated groups", () => {
  const days = [
    { date: "2026-11-02", shown: 5, clicked: 1, conversions_t0: 1, revenue_t0: 30000 },
    { date: "2026-11-04", shown: 7, conversions_t10: 2, conversions_c10: 9, revenue_t10: 50000, revenue_t0: 1000,
      revenue_c10: 999999 },
  ];
  assert.deepEqual(dailySeries(days, "2026-11-01", "2026-11-04", "shown"),
    { dates: ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"], values: [0, 5, 0, 7] });
  assert.deepEqual(dailySeries(days, "2026-11-01", "2026-11-04", "conversions").values, [0, 1, 0, 2]);
  assert.deepEqual(dailySeries(days, "2026-11-01", "2026-11-04", "revenue").values, [0, 30000, 0, 51000]);
  assert.deepEqual(dailySeries(undefined, "2026-11-01", "2026-11-02", "clicked").values, [0, 0]);
});

test("the lift shown is the period with a control group and the most visitors", () => {
  assert.equal(mainPeriod([period(0, 100, 0)]), null);
  assert.equal(mainPeriod([]), null);
  const big = period(50, 300, 290);
  assert.equal(mainPeriod([period(0, 900, 0), period(10, 80, 9), big]), big);
});

test("a rule's figures: treated conversions over its periods, revenue as the API gives it", () => {
  const stats = { shown: 40, clicked: 4, ctr: 0.1, revenue: 90000,
    periods: [period(0, 10, 0), period(50, 20, 20)] };
  const f = ruleFigures(stats);
  assert.deepEqual([f.shown, f.clicked, f.ctr, f.conversions, f.revenue], [40, 4, 0.1, 4, 90000]);
  assert.equal(f.period.share, 50);
  assert.deepEqual(ruleFigures(null), { shown: 0, clicked: 0, ctr: null, conversions: 0, revenue: 0, period: null });
});

test("overview rows: every active rule, by revenue, ties in file order", () => {
  const states = [{ rule: "a" }, { rule: "b" }, { rule: "c" }, { rule: "d" }];
  const stats = [{ rule: "c", revenue: 500 }, { rule: "b", revenue: 0 }, { rule: "old", revenue: 9999 },
    { rule: "d", revenue: 700 }];
  assert.deepEqual(overviewRows(states, stats).map((r) => r.state.rule), ["d", "c", "a", "b"]);
});

test("why not shown: reasons with counts, largest first, with shares", () => {
  const breakdown = notShownBreakdown({ lost_to: 2, capped: 6, stopped: 0, fatigued: 0, held_out: 2,
    held_back: 0, off_schedule: 0, off_page: 0 });
  assert.equal(breakdown.total, 10);
  assert.deepEqual(breakdown.reasons.map((r) => [r.reason, r.n, r.share]),
    [["capped", 6, 0.6], ["lost_to", 2, 0.2], ["held_out", 2, 0.2]]);
  assert.deepEqual(notShownBreakdown(undefined), { total: 0, reasons: [] });
});

test("an interval is laid out on a scale that always includes 0", () => {
  const above = intervalLayout({ low: 0.02, high: 0.1, estimate: 0.06 });
  assert.ok(above.zero < above.low && above.low < above.estimate && above.estimate < above.high);
  assert.ok(above.zero >= 0 && above.high <= 100);
  const across = intervalLayout({ low: -0.05, high: 0.05, estimate: 0 });
  assert.equal(Math.round(across.zero), 50);
  const flat = intervalLayout({ low: 0, high: 0, estimate: 0 });
  assert.ok(Number.isFinite(flat.zero));
});
