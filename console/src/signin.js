// Sign-in: the site id and its admin token. The token lives only in the
// password field until it is sent, and the field is emptied right after; the
// site id (not a secret) is remembered for next time.
import { field, h, notice, say } from "./dom.js";

const SITE_KEY = "ondo.console.site";

export function signInView(ctx, message, onSignedIn) {
  const { t, api, win } = ctx;
  let remembered = "";
  try {
    remembered = win.localStorage.getItem(SITE_KEY) || "";
  } catch (_) {
    /* no storage: type it */
  }
  const site = h("input", { name: "site", autocomplete: "username", required: true, value: remembered,
    spellcheck: "false", autocapitalize: "none" });
  const token = h("input", { name: "token", type: "password", autocomplete: "current-password",
    required: true });
  const problem = notice("alert");
  const info = notice("status");
  say(problem, "");
  say(info, message);
  const submit = h("button", { type: "submit", class: "primary" }, t("signin.submit"));
  const form = h("form", { class: "signin-form", novalidate: true },
    field(t("signin.site"), site), field(t("signin.token"), token), problem, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(problem, "");
    const siteId = site.value.trim();
    const secret = token.value;
    if (!siteId || !secret) {
      say(problem, t("signin.missing"), "error");
      (siteId ? token : site).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = t("signin.busy");
    try {
      const session = await api.signIn(siteId, secret);
      token.value = "";
      try {
        win.localStorage.setItem(SITE_KEY, siteId);
      } catch (_) {
        /* remembered next time only where storage works */
      }
      onSignedIn(session);
    } catch (error) {
      token.value = "";
      if (error.status === 429) {
        say(problem, t("signin.rate", { seconds: Math.ceil(Number(error.body.retry_after) || 60) }), "error");
      } else if (error.status === 401) {
        say(problem, t("signin.wrong"), "error");
      } else if (error.status === 422) {
        say(problem, t("signin.missing"), "error");
      } else if (error.status === 0) {
        say(problem, t("error.network"), "error");
      } else {
        say(problem, t("error.generic", { message: error.message }), "error");
      }
      token.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = t("signin.submit");
    }
  });
  const node = h("section", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, t("app.title")),
    h("h2", {}, t("signin.title")),
    h("p", { class: "intro" }, t("signin.intro")),
    info, form);
  return { node, focus: () => (site.value ? token : site).focus() };
}
