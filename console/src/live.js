// The engine's live figures in the header, polled every 5 seconds while
// signed in: connections, visitors on the site now, events per second.
import { h, replace } from "./dom.js";
import { number } from "./format.js";

export const LIVE_EVERY_MS = 5000;

export function startLive(ctx, node) {
  const { t, lang, api, win } = ctx;
  let timer = null;
  let stopped = false;
  const figure = (label, value, name) => h("div", { class: "live-figure", dataset: { live: name } },
    h("dt", {}, label), h("dd", {}, value));
  const draw = (data) => {
    replace(node, h("span", { class: "live-label" }, h("span", { class: "dot", "aria-hidden": "true" }),
      t("live.label")),
    h("dl", { "aria-live": "off" },
      figure(t("live.connections"), number(data.connections, lang), "connections"),
      figure(t("live.visitors"), number(data.visitors_now, lang), "visitors"),
      figure(t("live.eps"), number(data.events_per_second, lang, 1), "eps"),
      data.visitors_today === undefined ? null
        : figure(t("live.today"), number(data.visitors_today, lang), "today")));
  };
  const poll = async () => {
    try {
      const data = await api.live();
      if (!stopped) draw(data);
    } catch (error) {
      if (stopped || error.status === 401) return;
      replace(node, h("span", { class: "live-label muted" }, t("live.unavailable")));
    }
    if (!stopped) timer = win.setTimeout(poll, LIVE_EVERY_MS);
  };
  poll();
  return () => {
    stopped = true;
    if (timer) win.clearTimeout(timer);
  };
}
