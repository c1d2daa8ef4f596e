// Lift, as the console shows it: never a bare percentage. The difference of
// conversion rates (treated minus control) in points with its 95% interval,
// the verdict in words, and in the rule detail the interval drawn against 0.
import { h } from "./dom.js";
import { number, percent, signedPercent, signedPoints, signedWon, won } from "./format.js";
import { intervalLayout } from "./stats.js";

function points(ctx, value) {
  return ctx.t("lift.points", { value: signedPoints(value, ctx.lang) });
}

export function verdictBadge(t, verdict) {
  return h("span", { class: `badge verdict-${verdict}` }, t(`verdict.${verdict}`));
}

// The overview's cell: verdict, estimate and interval, or "no control group".
export function liftSummary(ctx, period) {
  const { t } = ctx;
  if (!period) return h("span", { class: "muted" }, t("lift.noControl"));
  const a = period.absolute;
  return h("div", { class: "lift-summary" }, verdictBadge(t, period.verdict),
    a ? h("span", { class: "lift-value" }, points(ctx, a.estimate), " ",
      h("span", { class: "interval" }, "(", t("lift.interval", {
        low: signedPoints(a.low, ctx.lang), high: signedPoints(a.high, ctx.lang) }), ")")) : null,
    period.more_visitors_needed ? h("span", { class: "muted small" },
      t("lift.moreVisitors", { n: number(period.more_visitors_needed, ctx.lang) })) : null);
}

// The interval on a line that always includes 0: a bar from low to high, a
// dot at the estimate, a mark at 0.
export function intervalDrawing(ctx, interval) {
  const at = intervalLayout(interval);
  const bar = h("div", { class: "ci-bar" });
  bar.style.left = `${at.low}%`;
  bar.style.width = `${Math.max(0.5, at.high - at.low)}%`;
  const dot = h("div", { class: "ci-dot" });
  dot.style.left = `${at.estimate}%`;
  const zero = h("div", { class: "ci-zero" });
  zero.style.left = `${at.zero}%`;
  const zeroLabel = h("span", { class: "ci-zero-label" }, "0");
  zeroLabel.style.left = `${at.zero}%`;
  const low = h("span", { class: "ci-low" }, signedPoints(interval.low, ctx.lang));
  low.style.left = `${at.low}%`;
  const high = h("span", { class: "ci-high" }, signedPoints(interval.high, ctx.lang));
  high.style.left = `${at.high}%`;
  const side = interval.low > 0 ? "above" : interval.high < 0 ? "below" : "across";
  return h("div", { class: `ci ci-${side}`, role: "img", "aria-label": `${points(ctx, interval.estimate)} (${
    ctx.t("lift.interval", { low: signedPoints(interval.low, ctx.lang),
      high: signedPoints(interval.high, ctx.lang) })})` },
  h("div", { class: "ci-track" }, zero, bar, dot), h("div", { class: "ci-labels" }, low, zeroLabel, high));
}

// The rule detail's block for one measurement period.
export function liftDetail(ctx, period) {
  const { t, lang } = ctx;
  const row = (label, f) => h("tr", {}, h("th", { scope: "row" }, label),
    h("td", { class: "num" }, f(period.treated)), h("td", { class: "num" }, f(period.control)));
  const groups = h("table", { class: "groups" },
    h("thead", {}, h("tr", {}, h("td"), h("th", { scope: "col" }, t("detail.treated")),
      h("th", { scope: "col" }, t("detail.control")))),
    h("tbody", {},
      row(t("detail.visitors"), (g) => number(g.visitors, lang)),
      row(t("detail.converted"), (g) => number(g.converted, lang)),
      row(t("detail.rate"), (g) => percent(g.rate, lang, 2)),
      row(t("detail.revenue.group"), (g) => won(g.revenue, lang)),
      row(t("detail.rpv"), (g) => won(g.revenue_per_visitor, lang))));
  const a = period.absolute;
  const r = period.relative;
  const rpv = period.revenue_per_visitor;
  return h("div", { class: "period", dataset: { share: String(period.share) } },
    h("h4", {}, t("detail.period", { share: number(period.share, lang, 1) })),
    h("p", { class: "verdict-line" }, verdictBadge(t, period.verdict), " ",
      a ? h("strong", { class: "lift-value" }, points(ctx, a.estimate)) : null),
    a ? intervalDrawing(ctx, a) : null,
    period.more_visitors_needed ? h("p", { class: "muted" },
      t("lift.moreVisitors", { n: number(period.more_visitors_needed, lang) })) : null,
    r ? h("p", { class: "small" }, t("lift.relative", { value: signedPercent(r.estimate, lang),
      low: signedPercent(r.low, lang), high: signedPercent(r.high, lang) })) : null,
    rpv ? h("p", { class: "small" }, t("lift.rpv", { value: signedWon(rpv.estimate, lang),
      low: signedWon(rpv.low, lang), high: signedWon(rpv.high, lang) })) : null,
    groups);
}
