// The console's frame: sign-in or the signed-in shell (header, menu, live
// figures, sign out) around one view at a time, chosen by the URL's hash
// (#/overview, #/rule/ID, #/editor, #/versions). An expired session, seen
// on any call, brings back the sign-in form; the view's draft is kept.
import { createApi } from "./api.js";
import { h, replace } from "./dom.js";
import { signInView } from "./signin.js";
import { startLive } from "./live.js";
import { overviewView } from "./overview.js";
import { ruleView } from "./ruledetail.js";
import { editorView } from "./editor.js";
import { versionsView } from "./versions.js";
import { clearDraft } from "./draft.js";
import { lastDays } from "./format.js";

const VIEWS = [
  { name: "overview", label: "nav.overview", mount: overviewView },
  { name: "editor", label: "nav.editor", mount: editorView },
  { name: "versions", label: "nav.versions", mount: versionsView },
];

export function route(hash) {
  const path = String(hash || "").replace(/^#\/?/, "");
  const [name, ...rest] = path.split("/");
  if (name === "rule" && rest.length) return { name: "rule", rule: decodeURIComponent(rest.join("/")) };
  if (VIEWS.some((v) => v.name === name)) return { name };
  return { name: "overview" };
}

export function startConsole({ root, lang, t, nonce, win }) {
  const ctx = {
    t, lang, nonce, win,
    storage: safeStorage(win),
    api: createApi({ fetchImpl: (...args) => win.fetch(...args), onExpired: () => expired() }),
    range: null, // the overview's date range, kept across views
    navigate: (hash) => { if (win.location.hash === hash) show(); else win.location.hash = hash; },
  };
  let current = null; // the mounted view: {node, destroy?, save?}
  let stopLive = () => {};
  let signedIn = false;

  function leave() {
    if (current) {
      if (current.save) current.save();
      if (current.destroy) current.destroy();
    }
    current = null;
  }

  function expired() {
    if (!signedIn) return;
    leave();
    signIn(t("signin.expired"));
  }

  function signIn(message = "") {
    signedIn = false;
    stopLive();
    document.title = t("app.title");
    const form = signInView(ctx, message, (session) => enter(session));
    replace(root, form.node);
    form.focus();
  }

  function enter(session) {
    signedIn = true;
    ctx.session = session;
    ctx.tz = session.timezone || "Asia/Seoul";
    if (!ctx.range) ctx.range = lastDays(ctx.tz, Date.now());
    const nav = h("nav", { class: "menu", "aria-label": t("app.nav") },
      VIEWS.map((v) => h("button", { type: "button", class: "tab", dataset: { view: v.name },
        onclick: () => ctx.navigate(`#/${v.name}`) }, t(v.label))));
    const live = h("div", { class: "live" });
    const out = h("button", { type: "button", class: "signout", onclick: signOut }, t("signout"));
    const header = h("header", { class: "bar" },
      h("div", { class: "brand" }, h("h1", {}, t("app.title")),
        h("span", { class: "site" }, t("app.site", { site: session.site }))),
      nav, live, out);
    ctx.outlet = h("div", { class: "view", id: "view" });
    replace(root, header, ctx.outlet);
    stopLive = startLive(ctx, live);
    show();
  }

  async function signOut() {
    leave();
    const site = ctx.session && ctx.session.site;
    stopLive();
    try {
      await ctx.api.signOut();
    } catch (_) {
      /* signed out here whatever the engine answered */
    }
    if (site) clearDraft(ctx.storage, site);
    signIn(t("signin.signedOut"));
  }

  function show() {
    if (!signedIn) return;
    leave();
    const where = route(win.location.hash);
    for (const tab of root.querySelectorAll(".tab")) {
      const on = tab.dataset.view === where.name || (where.name === "rule" && tab.dataset.view === "overview");
      if (on) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    const view = where.name === "rule" ? { mount: (c) => ruleView(c, where.rule) }
      : VIEWS.find((v) => v.name === where.name);
    current = view.mount(ctx);
    replace(ctx.outlet, current.node);
    if (current.mounted) current.mounted();
    const label = root.querySelector(".tab[aria-current]");
    document.title = `${label ? label.textContent : ""} · ${t("app.title")}`;
  }

  win.addEventListener("hashchange", show);
  win.addEventListener("pagehide", () => current && current.save && current.save());

  replace(root, h("p", { class: "loading" }, t("common.loading")));
  ctx.api.resume().then((session) => (session ? enter(session) : signIn()),
    () => signIn(t("error.network")));
}

function safeStorage(win) {
  try {
    const storage = win.sessionStorage;
    storage.getItem("ondo.console.probe");
    return storage;
  } catch (_) {
    return null;
  }
}
