// Ondo's widget: one script tag, one global (window.ondo).
//   <script async src="https://ENGINE/widget.js" data-site="demo-shop"></script>
//   ondo('page', {type, product_id, category}); ondo('cart', items);
//   ondo('identify', {member_id, signature}); ondo('track', name, props)
import { BEACON_PATH, SIGNAL_ARMING, WS_PATH } from "./protocol.js";
import { Outbox } from "./outbox.js";
import { Socket } from "./socket.js";
import { visitorId } from "./ids.js";
import { watch } from "./arming.js";
import { render } from "./render.js";

function storage(win, name) {
  try {
    const s = win[name];
    s.setItem("ondo.test", "1");
    s.removeItem("ondo.test");
    return s;
  } catch (_) {
    return null;
  }
}

function boot(win) {
  const doc = win.document;
  const script = doc.currentScript || doc.querySelector("script[data-site][src*='widget.js']");
  if (!script || win.ondo && win.ondo.loaded) return;
  const site = script.getAttribute("data-site");
  const engine = new URL(script.src, win.location.href);
  const visitor = visitorId(storage(win, "localStorage"), doc);
  const outbox = new Outbox(storage(win, "sessionStorage"));
  const wsUrl = `${engine.protocol === "https:" ? "wss" : "ws"}://${engine.host}${WS_PATH}` +
    `?site=${encodeURIComponent(site)}&visitor=${encodeURIComponent(visitor)}`;
  const page = () => ({ url: win.location.href, referrer: doc.referrer, title: doc.title });
  const shown = new Set();
  const socket = new Socket({
    url: wsUrl, page, outbox, WebSocketImpl: win.WebSocket, timers: win,
    onAction: (action) => {
      if (shown.has(action.rule)) return; // one of each rule per page
      shown.add(action.rule);
      watch(win, action.arming || {}, () => {
        const reported = new Set();
        render(win, action, (what) => {
          if (reported.has(what)) return;
          reported.add(what);
          socket.send("report", { action: action.id, rule: action.rule, what });
        });
      });
    },
  });
  // The signals the site's rules listen for (the welcome names them), each
  // sent once per page when it happens.
  let signals = [];
  let listening = {};
  const listen = () => {
    for (const name of signals) {
      if (listening[name] || !SIGNAL_ARMING[name]) continue;
      listening[name] = watch(win, SIGNAL_ARMING[name], () => socket.send("signal", { name }));
    }
  };
  socket.onWelcome = (frame) => { signals = frame.signals || []; listen(); };

  let pageInfo = {};
  let viewTimer = null;
  const sendPageview = () => {
    viewTimer = null;
    const data = { url: win.location.href, referrer: doc.referrer, title: doc.title };
    if (pageInfo.type) data.page_type = String(pageInfo.type);
    if (pageInfo.product_id) data.product_id = String(pageInfo.product_id);
    if (pageInfo.category) data.category = String(pageInfo.category);
    socket.send("pageview", data);
    shown.clear();
    // A new page: each signal may come once more.
    for (const name in listening) listening[name]();
    listening = {};
    listen();
  };
  // An SPA navigation's page view leaves a tick after the URL changed, so that
  // the ondo('page', ...) call that follows it can describe the page.
  const pageview = () => {
    if (viewTimer) win.clearTimeout(viewTimer);
    viewTimer = win.setTimeout(sendPageview, 50);
  };
  // The first page view, and the socket, once the document is parsed and its
  // deferred scripts and DOMContentLoaded handlers (jQuery's ready, GTM's DOM
  // Ready) have run, so that an ondo('page', ...) made there describes it: one
  // small socket does not hold up the shop's images and scripts, which go on
  // loading, and the action can be on the page before its load event. An async
  // widget may run while readyState is already "interactive" but the deferred
  // scripts have not: only the navigation timing says DOMContentLoaded is past.
  const whenParsed = (then) => {
    let started = false;
    const go = () => {
      if (started) return;
      started = true;
      win.setTimeout(then, 0);
    };
    const timing = win.performance && win.performance.getEntriesByType &&
      win.performance.getEntriesByType("navigation")[0];
    if (doc.readyState === "complete" || (timing && timing.domContentLoadedEventEnd > 0)) {
      go();
    } else {
      doc.addEventListener("DOMContentLoaded", go, { once: true });
      win.addEventListener("load", go, { once: true }); // if that moment was missed
    }
  };
  const api = (command, ...args) => {
    if (command === "page") pageInfo = args[0] || {};
    else if (command === "cart") socket.send("cart", { items: (args[0] || []).map((item) => ({
      product_id: String(item.product_id), qty: Number(item.qty || 1),
      price: Number(item.price || 0) })) });
    else if (command === "identify") socket.send("identify", {
      member_id: String((args[0] || {}).member_id || ""),
      signature: String((args[0] || {}).signature || "") });
    else if (command === "track") socket.send("track", { name: String(args[0]), props: args[1] || {} });
  };
  const queued = (win.ondo && win.ondo.q) || [];
  const ondo = (...args) => { try { api(...args); } catch (_) { /* never break the page */ } };
  ondo.loaded = true;
  win.ondo = ondo;
  for (const args of queued) ondo(...args);

  for (const method of ["pushState", "replaceState"]) {
    const original = win.history[method];
    win.history[method] = function (...args) {
      const before = win.location.href;
      const result = original.apply(this, args);
      if (win.location.href !== before && method === "pushState") { pageInfo = {}; pageview(); }
      return result;
    };
  }
  win.addEventListener("popstate", () => { pageInfo = {}; pageview(); });
  const flush = () => {
    const body = outbox.beacon(site, visitor);
    if (body && win.navigator.sendBeacon) {
      win.navigator.sendBeacon(`${engine.origin}${BEACON_PATH}`, body);
    }
  };
  win.addEventListener("pagehide", flush);
  doc.addEventListener("visibilitychange", () => { if (doc.visibilityState === "hidden") flush(); });
  whenParsed(() => {
    if (!viewTimer) sendPageview();
    socket.connect();
  });
}

try {
  boot(window);
} catch (_) {
  /* the widget never breaks the host page */
}
