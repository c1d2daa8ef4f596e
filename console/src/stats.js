// What the console reads out of the stats API's JSON (docs/stats.md): the
// figures of a rule's row, its daily series, its "why not shown" breakdown and
// the period whose lift is shown. Pure functions.
import { daysBetween } from "./format.js";
import { REASONS } from "./language.js";

// Why a matched rule was not sent (engine/delivery/policy.py, generated into language.js).
export { REASONS };

// A day's sum over the treated groups ("revenue_t0", "revenue_t10", ...).
function treated(day, what) {
  let sum = 0;
  for (const [name, n] of Object.entries(day)) {
    if (name.startsWith(`${what}_t`)) sum += Number(n) || 0;
  }
  return sum;
}

const PICK = {
  shown: (day) => Number(day.shown) || 0,
  clicked: (day) => Number(day.clicked) || 0,
  matched: (day) => Number(day.matched) || 0,
  conversions: (day) => treated(day, "conversions"),
  revenue: (day) => treated(day, "revenue"),
};

// One value per day of [from, to] (0 where the API has no entry for the day).
export function dailySeries(days, from, to, what) {
  const pick = PICK[what];
  const byDate = new Map((days || []).map((day) => [day.date, day]));
  const dates = daysBetween(from, to);
  return { dates, values: dates.map((date) => (byDate.has(date) ? pick(byDate.get(date)) : 0)) };
}

// The period whose lift the console shows: among those with a control group
// (share > 0), the one with the most exposed visitors. null without one.
export function mainPeriod(periods) {
  let best = null;
  let bestSize = -1;
  for (const period of periods || []) {
    if (!(period.share > 0)) continue;
    const size = (period.treated?.visitors || 0) + (period.control?.visitors || 0);
    if (size > bestSize) {
      best = period;
      bestSize = size;
    }
  }
  return best;
}

// The figures of one rule's overview row.
export function ruleFigures(stats) {
  if (!stats) {
    return { shown: 0, clicked: 0, ctr: null, conversions: 0, revenue: 0, period: null };
  }
  const conversions = (stats.periods || []).reduce((n, p) => n + (p.treated?.conversions || 0), 0);
  return {
    shown: stats.shown || 0,
    clicked: stats.clicked || 0,
    ctr: stats.ctr ?? null,
    conversions,
    revenue: stats.revenue || 0,
    period: mainPeriod(stats.periods),
  };
}

// The overview's rows: every rule of the active version (its state entry),
// with its figures, by revenue (highest first), then in file order.
export function overviewRows(states, statsRules) {
  const byRule = new Map((statsRules || []).map((r) => [r.rule, r]));
  const rows = (states || []).map((state, index) => ({
    state, index, stats: byRule.get(state.rule) || null, figures: ruleFigures(byRule.get(state.rule)),
  }));
  rows.sort((a, b) => b.figures.revenue - a.figures.revenue || a.index - b.index);
  return rows;
}

// "Why not shown": the reasons with a count, largest first, with their share.
export function notShownBreakdown(notShown) {
  const entries = REASONS.map((reason) => [reason, Number((notShown || {})[reason]) || 0])
    .filter(([, n]) => n > 0);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  entries.sort((a, b) => b[1] - a[1] || REASONS.indexOf(a[0]) - REASONS.indexOf(b[0]));
  return { total, reasons: entries.map(([reason, n]) => ({ reason, n, share: total ? n / total : 0 })) };
}

// Where an interval and its estimate sit on a scale that always shows 0:
// percentages (0..100) of the track's width for low, high, estimate and zero.
export function intervalLayout(interval) {
  const { low, high, estimate } = interval;
  let min = Math.min(low, 0);
  let max = Math.max(high, 0);
  const pad = (max - min) * 0.1 || 0.01;
  min -= pad;
  max += pad;
  const at = (x) => ((x - min) / (max - min)) * 100;
  return { low: at(low), high: at(high), estimate: at(estimate), zero: at(0) };
}
