// The overview: every rule of the active version with its state and, for the
// chosen date range, what it did and earned, sorted by revenue; a 14-day
// sparkline per rule; the site-wide holdback comparison when there is one.
import { field, h, notice, replace, say } from "./dom.js";
import { isDay, lastDays, number, percent, won } from "./format.js";
import { dailySeries, mainPeriod, overviewRows } from "./stats.js";
import { sparkline } from "./charts.js";
import { liftSummary } from "./lift.js";
import { describeError } from "./errors.js";

// The date range form, shared with the rule detail view.
export function rangeForm(ctx, onChange) {
  const { t } = ctx;
  const from = h("input", { type: "date", name: "from", value: ctx.range.from, required: true });
  const to = h("input", { type: "date", name: "to", value: ctx.range.to, required: true });
  const problem = notice("alert");
  say(problem, "");
  const form = h("form", { class: "range", "aria-label": t("range.label") },
    field(t("range.from"), from), field(t("range.to"), to),
    h("button", { type: "submit" }, t("range.apply")), problem);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!isDay(from.value) || !isDay(to.value) || from.value > to.value) {
      say(problem, t("range.invalid"), "error");
      return;
    }
    say(problem, "");
    ctx.range = { from: from.value, to: to.value };
    onChange();
  });
  return form;
}

export function stateBadge(t, state) {
  return h("span", { class: `badge state-${state}` }, t(`state.${state}`));
}

export function overviewView(ctx) {
  const { t, lang, api } = ctx;
  let alive = true;
  const charts = [];
  const body = h("div", { class: "overview-body" }, h("p", { class: "loading" }, t("common.loading")));
  const problem = notice("alert");
  say(problem, "");

  async function load() {
    replace(body, h("p", { class: "loading" }, t("common.loading")));
    say(problem, "");
    const { from, to } = ctx.range;
    const spark = lastDays(ctx.tz, Date.now(), 14);
    try {
      const [states, stats] = await Promise.all([api.states(), api.stats(from, to)]);
      const sparkStats = spark.from === from && spark.to === to ? stats
        : await api.stats(spark.from, spark.to);
      if (alive) draw(states, stats, sparkStats, spark);
    } catch (error) {
      if (alive && error.status !== 401) {
        replace(body);
        say(problem, describeError(t, error), "error");
      }
    }
  }

  function draw(states, stats, sparkStats, spark) {
    charts.splice(0).forEach((c) => c.destroy());
    const rows = overviewRows(states.rules, stats.rules);
    if (!rows.length) {
      replace(body, h("p", { class: "empty" }, t("overview.empty")));
      return;
    }
    const sparkByRule = new Map((sparkStats.rules || []).map((r) => [r.rule, r]));
    const head = h("thead", {}, h("tr", {},
      ["col.rule", "col.state", "col.shown", "col.clicked", "col.ctr", "col.conversions",
        "col.revenue", "col.lift", "col.trend"].map((key) => h("th", { scope: "col" }, t(key)))));
    const tbody = h("tbody");
    for (const { state, figures } of rows) {
      const series = dailySeries(sparkByRule.get(state.rule)?.days, spark.from, spark.to, "shown");
      const chart = sparkline({ label: t("col.trend"), dates: series.dates, values: series.values });
      charts.push(chart);
      tbody.append(h("tr", { dataset: { rule: state.rule } },
        h("th", { scope: "row", class: "rule-cell" },
          h("a", { href: `#/rule/${encodeURIComponent(state.rule)}`, class: "rule-link",
            "aria-label": t("overview.open", { rule: state.rule }) }, state.rule),
          state.title ? h("span", { class: "rule-title" }, state.title) : null),
        h("td", {}, stateBadge(t, state.state)),
        h("td", { class: "num", dataset: { figure: "shown" } }, number(figures.shown, lang)),
        h("td", { class: "num", dataset: { figure: "clicked" } }, number(figures.clicked, lang)),
        h("td", { class: "num", dataset: { figure: "ctr" } }, percent(figures.ctr, lang)),
        h("td", { class: "num", dataset: { figure: "conversions" } }, number(figures.conversions, lang)),
        h("td", { class: "num", dataset: { figure: "revenue" } }, won(figures.revenue, lang)),
        h("td", { class: "lift-cell", dataset: { figure: "lift" } }, liftSummary(ctx, figures.period)),
        h("td", { class: "trend" }, chart.node)));
    }
    const caption = h("caption", {}, t("overview.caption", {
      version: String(states.version || "").slice(0, 8), from: stats.from, to: stats.to,
      timezone: stats.timezone || ctx.tz }));
    const site = mainPeriod(stats.site_wide?.periods);
    replace(body,
      h("div", { class: "table-wrap" }, h("table", { class: "rules" }, caption, head, tbody)),
      site ? h("section", { class: "site-wide", "aria-labelledby": "site-wide-title" },
        h("h3", { id: "site-wide-title" }, t("overview.siteWide")), liftSummary(ctx, site)) : null);
    charts.forEach((c) => c.draw());
  }

  const node = h("section", { class: "overview", "aria-labelledby": "overview-title" },
    h("div", { class: "view-head" }, h("h2", { id: "overview-title" }, t("overview.title")),
      rangeForm(ctx, load)),
    problem, body);
  return {
    node,
    mounted: load,
    destroy: () => {
      alive = false;
      charts.forEach((c) => c.destroy());
    },
  };
}
