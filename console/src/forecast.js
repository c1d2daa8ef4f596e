// Forecast: the draft being edited, replayed by the engine over the traffic it
// recorded (POST .../rules/forecast, the engine's docs/forecast.md). The panel
// shows what the draft would have done: events replayed and actions sent, live
// against draft; per rule of the draft, who it matched and was shown to, the
// buyers among them, why it was not shown and when (by hour); and what the draft
// takes from the live rules. The functions that read the answer are pure.
import { field, h, notice, replace, say, uid } from "./dom.js";
import { ApiError } from "./api.js";
import { REASONS } from "./language.js";
import { dateTime, number, shortVersion, won } from "./format.js";
import { describeError } from "./errors.js";

// The windows the marketer picks from, as the API's `since` (the first is the default).
export const WINDOWS = ["24h", "7d"];

// Why a live rule's sends are lost besides a delivery reason (engine/forecast/replay.py).
export const LOST = ["not_matched", "not_in_draft"];

const HOURS = 24;
const count = (n) => Number(n) || 0;

// [[name, n], ...] of a {name: n} map with n > 0, largest first, then by `order`.
function ranked(map, order = []) {
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  return Object.entries(map || {}).map(([name, n]) => [name, count(n)]).filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1] || rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1));
}

// The figures of the summary line and the window.
export function forecastSummary(data) {
  return {
    events: count(data.events), visitors: count(data.visitors),
    live: count(data.sent?.live), draft: count(data.sent?.draft),
    changed: count(data.changed_events), fatigued: count(data.fatigued),
    unreadable: count(data.unreadable),
    since: data.window?.since ?? null, until: data.window?.until ?? null,
    liveVersion: data.live_version || "",
  };
}

// 24 values (one per hour of the site's day), whatever the answer holds.
export function byHour(values) {
  return Array.from({ length: HOURS }, (_, hour) => count((values || [])[hour]));
}

// The table's rows: one per rule of the draft, in file order. `notShown` is
// what kept a match from being shown: each rule it lost to, then the other
// delivery reasons, largest first.
export function ruleRows(data) {
  return (data.rules || []).map((rule) => {
    const lostTo = ranked(rule.lost_to).map(([winner, n]) => ({ rule: winner, n }));
    const reasons = ranked(rule.outcomes, REASONS).filter(([reason]) => reason !== "shown"
      && reason !== "lost_to").map(([reason, n]) => ({ reason, n }));
    return {
      rule: rule.rule, isNew: Boolean(rule.new),
      matched: count(rule.matched), matchedVisitors: count(rule.matched_visitors),
      shown: count(rule.shown), shownVisitors: count(rule.shown_visitors),
      buyers: count(rule.buyers), revenue: count(rule.revenue),
      hours: byHour(rule.shown_by_hour), lostTo, reasons,
    };
  });
}

// "What the draft takes from live rules": each live rule that loses sends,
// with the draft's rules that take them and the other reasons they are lost.
export function takenRows(data) {
  return (data.live_rules || []).filter((live) => count(live.lost) > 0).map((live) => ({
    rule: live.rule, inDraft: Boolean(live.in_draft),
    sent: count(live.sent), kept: count(live.kept), lost: count(live.lost),
    takenBy: ranked(live.taken_by).map(([rule, n]) => ({ rule, n })),
    lostFor: ranked(live.lost_for, [...REASONS, ...LOST]).map(([reason, n]) => ({ reason, n })),
  }));
}

// The message key of a reason a live rule's send is lost for.
export function lostKey(reason) {
  return LOST.includes(reason) ? `forecast.lost.${reason}` : `reason.${reason}`;
}

// Bars of a by-hour chart: each hour's height in percent of the busiest hour.
export function hourBars(values) {
  const hours = byHour(values);
  const top = Math.max(0, ...hours);
  return hours.map((n, hour) => ({ hour, n, height: top ? Math.round((n / top) * 100) : 0 }));
}

// One sentence for a forecast that did not run, the engine's words after ours.
// `limit` names the engine's limit a forecast met (engine/wire/protocol.py).
export function forecastError(t, error) {
  const message = (error && error.message) || "";
  if (!error || error.status === 0) return t("error.network");
  const limit = error.body && error.body.limit;
  if (limit === "forecast_seconds") return t("forecast.error.tooLong", { message });
  if (limit === "forecast_memory") return t("forecast.error.memory", { message });
  if (error.status === 413) return t("forecast.error.tooMany", { message });
  if (error.status === 429) return t("forecast.error.busy", { message });
  if (error.status === 503) return t("forecast.error.storage", { message });
  if (error.status === 422 && (error.field === "since" || error.field === "until")) {
    return t("forecast.error.window", { message });
  }
  return describeError(t, error);
}

// The panel and its button (the editor puts the button beside Push).
// `text()` is the draft, null before the editor is ready; `onRefused(data)`
// shows a refused draft's problems in the editor, as a refused push does.
// While a forecast runs, Cancel aborts its request: the engine stops it and
// frees the site's slot for the next (leaving the editor cancels it too).
export function forecastPanel(ctx, { text, onRefused }) {
  const { t, lang, api } = ctx;
  let alive = true;
  let running = null; // the AbortController of the forecast under way
  let forecastText = null; // the draft of the results shown

  const button = h("button", { type: "button", class: "forecast-button", onclick: run }, t("editor.forecast"));
  const cancelButton = h("button", { type: "button", class: "forecast-cancel", hidden: true,
    onclick: cancel }, t("forecast.cancel"));
  const since = h("select", { name: "since" },
    WINDOWS.map((w) => h("option", { value: w }, t(`forecast.window.${w}`))));
  const status = notice("status");
  say(status, "");
  const stale = notice("status");
  say(stale, "");
  const results = h("div", { class: "forecast-results" }, h("p", { class: "muted" }, t("forecast.empty")));

  async function run() {
    const draft = text();
    if (draft === null || running) return;
    const controller = new AbortController();
    running = controller;
    button.disabled = true;
    button.textContent = t("editor.forecasting");
    cancelButton.hidden = false;
    node.setAttribute("aria-busy", "true");
    say(stale, "");
    say(status, t("forecast.running"));
    replace(results);
    forecastText = null;
    try {
      const reply = await api.forecast(draft, since.value, undefined, controller.signal);
      if (!alive) return;
      if (controller.signal.aborted) {
        say(status, t("forecast.cancelled"));
      } else if (reply.status === 200) {
        draw(reply.data, draft);
        say(status, t("forecast.done", { seconds: number(reply.data.elapsed_seconds, lang, 1) }), "ok");
      } else if (reply.data && reply.data.field === "body") {
        onRefused(reply.data);
        say(status, t("forecast.refused"), "error");
      } else {
        say(status, forecastError(t, new ApiError(reply.status, reply.data)), "error");
      }
    } catch (error) {
      if (!alive) return;
      if (controller.signal.aborted) say(status, t("forecast.cancelled"));
      else if (error.status !== 401) say(status, forecastError(t, error), "error");
    } finally {
      running = null;
      button.disabled = false;
      button.textContent = t("editor.forecast");
      cancelButton.hidden = true;
      node.removeAttribute("aria-busy");
    }
  }

  function cancel() {
    if (!running) return;
    running.abort();
    button.focus();
  }

  function draw(data, draft) {
    forecastText = draft;
    const tz = data.timezone || ctx.tz;
    const s = forecastSummary(data);
    const span = { from: dateTime(s.since, tz), to: dateTime(s.until, tz), timezone: tz,
      version: shortVersion(s.liveVersion) };
    replace(results,
      h("p", { class: "forecast-window muted small" },
        t(s.liveVersion ? "forecast.span" : "forecast.spanNoLive", span)),
      h("p", { class: "forecast-summary", dataset: { figure: "summary" } }, t("forecast.summary", {
        events: number(s.events, lang), visitors: number(s.visitors, lang),
        live: number(s.live, lang), draft: number(s.draft, lang), changed: number(s.changed, lang) })),
      s.fatigued ? h("p", { class: "muted small" }, t("forecast.fatigued", { n: number(s.fatigued, lang) })) : null,
      s.unreadable ? h("p", { class: "muted small" }, t("forecast.unreadable", { n: number(s.unreadable, lang) }))
        : null,
      s.events ? null : h("p", { class: "empty" }, t("forecast.noEvents")),
      rulesTable(data, tz),
      takenSection(data));
    if (node.scrollIntoView) node.scrollIntoView({ block: "nearest" });
  }

  function rulesTable(data, tz) {
    const rows = ruleRows(data);
    const noteId = uid("buyers-note");
    const num = (figure, n) => h("td", { class: "num", dataset: { figure } }, number(n, lang));
    const head = h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("col.rule")),
      h("th", { scope: "col" }, t("forecast.col.matchedVisitors")),
      h("th", { scope: "col" }, t("forecast.col.shown")),
      h("th", { scope: "col" }, t("forecast.col.shownVisitors")),
      h("th", { scope: "col", "aria-describedby": data.buyers_note ? noteId : null },
        t("forecast.col.buyers"), data.buyers_note ? h("span", { "aria-hidden": "true" }, " *") : null),
      h("th", { scope: "col" }, t("forecast.col.notShown")),
      h("th", { scope: "col" }, t("forecast.col.hours"))));
    const body = h("tbody", {}, rows.map((row) => h("tr", { dataset: { rule: row.rule } },
      h("th", { scope: "row", class: "rule-cell" }, h("code", { class: "rule-link" }, row.rule),
        row.isNew ? [" ", h("span", { class: "badge new" }, t("forecast.new"))] : null),
      num("matched_visitors", row.matchedVisitors),
      num("shown", row.shown),
      num("shown_visitors", row.shownVisitors),
      h("td", { class: "num", dataset: { figure: "buyers" } }, number(row.buyers, lang),
        row.revenue ? h("span", { class: "rule-title" }, t("forecast.revenue", { revenue: won(row.revenue, lang) }))
          : null),
      h("td", { class: "not-shown", dataset: { figure: "not_shown" } }, notShown(row)),
      h("td", { class: "trend" }, hoursChart(row.hours, tz)))));
    return h("div", { class: "table-wrap" },
      h("table", { class: "forecast-rules" }, h("caption", {}, t("forecast.rules")), head, body),
      data.buyers_note ? h("p", { class: "buyers-note muted small", id: noteId }, "* ", data.buyers_note) : null);
  }

  function notShown(row) {
    const items = [
      ...row.lostTo.map(({ rule, n }) => h("li", { dataset: { lostTo: rule } },
        t("forecast.lostTo", { rule, n: number(n, lang) }))),
      ...row.reasons.map(({ reason, n }) => h("li", { dataset: { reason } },
        t("forecast.because", { reason: t(`reason.${reason}`), n: number(n, lang) }))),
    ];
    return items.length ? h("ul", { class: "plain-list" }, items) : t("common.none");
  }

  function hoursChart(values, tz) {
    const bars = hourBars(values);
    const busy = bars.filter((b) => b.n > 0)
      .map((b) => t("forecast.hour", { hour: b.hour, n: number(b.n, lang) })).join(", ");
    const label = t("forecast.hours", { timezone: tz, hours: busy || t("forecast.hoursNone") });
    return h("div", { class: "hours", role: "img", "aria-label": label, title: label,
      dataset: { values: values.join(",") } }, bars.map((b) => {
      const bar = h("span", { class: "hour" });
      bar.style.height = `${b.height}%`;
      return bar;
    }));
  }

  function takenSection(data) {
    const rows = takenRows(data);
    return h("section", { class: "forecast-taken" },
      h("h4", {}, t("forecast.taken")),
      rows.length ? h("ul", { class: "taken-list" }, rows.map((row) => h("li", { dataset: { rule: row.rule } },
        h("div", { class: "taken-head" }, h("code", { class: "rule-link" }, row.rule),
          row.inDraft ? null : h("span", { class: "badge warning" }, t("forecast.notInDraft")),
          h("span", { class: "taken-figures" }, t("forecast.takenLine", { sent: number(row.sent, lang),
            kept: number(row.kept, lang), lost: number(row.lost, lang) }))),
        row.takenBy.length ? h("p", { class: "taken-by" }, row.takenBy.map(({ rule, n }, i) =>
          [i ? ", " : "", t("forecast.takenBy", { rule, n: number(n, lang) })])) : null,
        row.lostFor.length ? h("p", { class: "lost-for" }, row.lostFor.map(({ reason, n }, i) =>
          [i ? ", " : "", t("forecast.because", { reason: t(lostKey(reason)), n: number(n, lang) })])) : null)))
        : h("p", { class: "muted" }, t("forecast.takenNone")));
  }

  const node = h("section", { class: "forecast", "aria-labelledby": "forecast-title" },
    h("h3", { id: "forecast-title" }, t("forecast.title")),
    h("p", { class: "muted small" }, t("forecast.intro")),
    h("div", { class: "forecast-form" }, field(t("forecast.window"), since), cancelButton),
    status, stale, results);

  return {
    node,
    button,
    // The draft changed: results of an older draft say so.
    edited(current) {
      say(stale, forecastText !== null && current !== forecastText ? t("forecast.stale") : "");
    },
    destroy: () => {
      alive = false;
      if (running) running.abort(); // no forecast runs on for an editor that is gone
    },
  };
}
