// One rule's detail: daily charts of shown, clicks, conversions and revenue;
// why its matches were not shown, as a breakdown of reasons; its lift, treated
// against control, with the interval drawn.
import { h, notice, replace, say } from "./dom.js";
import { number, percent, won, wonShort } from "./format.js";
import { dailySeries, notShownBreakdown } from "./stats.js";
import { dailyChart } from "./charts.js";
import { liftDetail } from "./lift.js";
import { rangeForm, stateBadge } from "./overview.js";
import { describeError } from "./errors.js";

export function ruleView(ctx, ruleId) {
  const { t, lang, api } = ctx;
  let alive = true;
  const charts = [];
  const problem = notice("alert");
  say(problem, "");
  const head = h("div", { class: "rule-head" });
  const body = h("div", { class: "rule-body" }, h("p", { class: "loading" }, t("common.loading")));

  async function load() {
    say(problem, "");
    replace(body, h("p", { class: "loading" }, t("common.loading")));
    try {
      const [states, stats] = await Promise.all([api.states(),
        api.stats(ctx.range.from, ctx.range.to, ruleId).catch((error) => {
          if (error.status === 404) return null;
          throw error;
        })]);
      if (alive) draw(states, stats);
    } catch (error) {
      if (alive && error.status !== 401) {
        replace(body);
        say(problem, describeError(t, error), "error");
      }
    }
  }

  function draw(states, stats) {
    charts.splice(0).forEach((c) => c.destroy());
    const state = (states.rules || []).find((r) => r.rule === ruleId);
    replace(head,
      state ? stateBadge(t, state.state) : null,
      state && state.title ? h("p", { class: "rule-title" }, state.title) : null,
      state ? h("p", { class: "muted" }, t("detail.meta", {
        priority: state.priority ?? 0, holdout: holdoutText(state.holdout, lang),
        triggers: (state.triggers || []).join(", "), line: state.line })) : null);
    const figures = stats && stats.rules && stats.rules[0];
    if (!state && !figures) {
      replace(body, h("p", { class: "empty" }, t("detail.unknownRule", { rule: ruleId })));
      return;
    }
    if (!figures) {
      replace(body, h("p", { class: "empty" }, t("detail.noFigures")));
      return;
    }
    const { from, to } = stats;
    const plain = (v) => number(v, lang);
    const specs = [
      ["shown", "detail.shown", plain, plain],
      ["clicked", "detail.clicks", plain, plain],
      ["conversions", "detail.conversions", plain, plain],
      ["revenue", "detail.revenue", (v) => won(v, lang), (v) => wonShort(v, lang)],
    ];
    const grid = h("div", { class: "charts" });
    for (const [what, title, format, short] of specs) {
      const series = dailySeries(figures.days, from, to, what);
      const chart = dailyChart({ title: t(title), dates: series.dates, values: series.values, format, short });
      chart.node.dataset.chart = what;
      charts.push(chart);
      grid.append(chart.node);
    }
    const breakdown = notShownBreakdown(figures.not_shown);
    const reasons = h("section", { class: "reasons", "aria-labelledby": "reasons-title" },
      h("h3", { id: "reasons-title" }, t("detail.notShown")),
      breakdown.total ? h("p", { class: "muted" }, t("detail.notShownTotal", { n: number(breakdown.total, lang) }))
        : h("p", { class: "muted" }, t("detail.notShownNone")),
      breakdown.total ? h("ul", { class: "bars" }, breakdown.reasons.map(({ reason, n, share }) => {
        const fill = h("span", { class: "bar-fill" });
        fill.style.width = `${Math.max(1, share * 100)}%`;
        return h("li", { dataset: { reason } },
          h("span", { class: "bar-label" }, t(`reason.${reason}`)),
          h("span", { class: "bar-track", "aria-hidden": "true" }, fill),
          h("span", { class: "bar-value" }, `${number(n, lang)} (${percent(share, lang, 0)})`));
      })) : null);
    const periods = (figures.periods || []).filter((p) => p.share > 0);
    const lift = h("section", { class: "lift", "aria-labelledby": "lift-title" },
      h("h3", { id: "lift-title" }, t("detail.lift")),
      periods.length ? periods.map((p) => liftDetail(ctx, p)) : h("p", { class: "muted" }, t("detail.noPeriods")));
    replace(body, grid, h("div", { class: "detail-columns" }, reasons, lift));
    charts.forEach((c) => c.draw());
  }

  const node = h("section", { class: "rule-detail", "aria-labelledby": "rule-detail-title" },
    h("div", { class: "view-head" },
      h("h2", { id: "rule-detail-title" }, t("detail.title", { rule: ruleId })),
      h("a", { href: "#/overview", class: "back" }, t("detail.back")),
      rangeForm(ctx, load)),
    head, problem, body);
  const onResize = () => charts.forEach((c) => c.draw());
  return {
    node,
    mounted: () => {
      ctx.win.addEventListener("resize", onResize);
      load();
    },
    destroy: () => {
      alive = false;
      ctx.win.removeEventListener("resize", onResize);
      charts.forEach((c) => c.destroy());
    },
  };
}

// A rule's holdout as the states API gives it: a share (0.1) or the file's text ("10%").
function holdoutText(holdout, lang) {
  if (typeof holdout === "string") return holdout;
  return percent(Number(holdout) || 0, lang, 0);
}
