// The editor view: the active rule file in CodeMirror, checked by the engine's
// compiler as the marketer types (problems underlined in place and listed with
// their hints), explain and a widget preview beside it, a forecast of the
// draft over recorded traffic, and push with a note.
// An unsaved draft survives trips to other views and an expired session.
import { h, notice, replace, say } from "./dom.js";
import { createEditor } from "./codeeditor.js";
import { allProblems, toDiagnostics } from "./lint.js";
import { clearDraft, loadDraft, saveDraft } from "./draft.js";
import { explainPanel } from "./explain.js";
import { createPreview } from "./preview.js";
import { forecastPanel } from "./forecast.js";
import { describeError } from "./errors.js";
import { number, shortVersion } from "./format.js";

const DRAFT_SAVE_MS = 300;

export function editorView(ctx) {
  const { t, lang, api } = ctx;
  const site = ctx.session.site;
  let alive = true;
  let editor = null;
  let base = null; // {text, version} of the active file, null before the first push
  let saveTimer = null;

  const baseLine = h("p", { class: "muted base" });
  const draftNote = notice("status");
  say(draftNote, "");
  const discard = h("button", { type: "button", class: "link-button", hidden: true, onclick: discardDraft },
    t("editor.discard"));
  const lintStatus = h("p", { class: "lint-status", role: "status", "aria-live": "polite" });
  const problemsList = h("ul", { class: "problems-list" });
  const host = h("div", { class: "cm-host" });
  const pushMessage = notice("status");
  say(pushMessage, "");
  const note = h("input", { id: "push-note", name: "note", maxlength: "200",
    placeholder: t("editor.notePlaceholder") });
  const pushButton = h("button", { type: "submit", class: "primary" }, t("editor.push"));
  const forecast = forecastPanel(ctx, { text: () => (editor ? editor.text() : null), onRefused: refused });
  const pushForm = h("form", { class: "push" },
    h("div", { class: "field grow" }, h("label", { for: "push-note" }, t("editor.note")), note),
    pushButton, forecast.button);
  pushForm.addEventListener("submit", (event) => {
    event.preventDefault();
    push();
  });
  const preview = createPreview(ctx);
  const explain = explainPanel(ctx, { text: () => (editor ? editor.text() : ""), preview,
    onRulesProblems: (result) => showProblems(allProblems(result)) });

  function showProblems(problems) {
    if (!editor) return [];
    const text = editor.text();
    const diagnostics = toDiagnostics(text, problems);
    const errors = diagnostics.filter((d) => d.severity === "error").length;
    const warnings = diagnostics.length - errors;
    lintStatus.dataset.state = errors ? "errors" : warnings ? "warnings" : "ok";
    lintStatus.textContent = diagnostics.length
      ? t("editor.counts", { errors: number(errors, lang), warnings: number(warnings, lang) })
      : t("editor.ok");
    replace(problemsList, diagnostics.length ? diagnostics.map((d) => h("li", { class: `problem ${d.severity}` },
      h("button", { type: "button", class: "problem-jump", onclick: () => editor.goTo(d.from) },
        h("span", { class: "problem-where" }, t("editor.at", { line: d.line, column: d.column })),
        h("span", { class: `badge ${d.severity}` }, t(`editor.severity.${d.severity}`)),
        h("span", { class: "problem-message" }, d.message)),
      d.hint ? h("p", { class: "problem-hint" }, t("editor.hint", { hint: d.hint })) : null))
      : h("li", { class: "muted" }, t("editor.noProblems")));
    return diagnostics;
  }

  // A draft the engine refused (push, forecast): its problems in place.
  function refused(data) {
    if (!editor) return;
    const problems = allProblems(data);
    editor.show(showProblems(problems.length ? problems
      : [{ line: 1, column: 1, message: data.error || "", severity: "error" }]));
  }

  async function lint(text) {
    lintStatus.dataset.state = "checking";
    lintStatus.textContent = t("editor.checking");
    try {
      const result = await api.validate(text);
      if (!alive || !editor || editor.text() !== text) return [];
      return showProblems(allProblems(result));
    } catch (error) {
      if (alive && error.status !== 401) {
        lintStatus.dataset.state = "failed";
        lintStatus.textContent = describeError(t, error);
      }
      return [];
    }
  }

  function keepDraft() {
    if (saveTimer) ctx.win.clearTimeout(saveTimer);
    saveTimer = null;
    if (!editor) return;
    const text = editor.text();
    if (base && text === base.text) clearDraft(ctx.storage, site);
    else saveDraft(ctx.storage, site, text, base ? base.version : "");
  }

  function changed() {
    say(pushMessage, "");
    if (saveTimer) ctx.win.clearTimeout(saveTimer);
    saveTimer = ctx.win.setTimeout(keepDraft, DRAFT_SAVE_MS);
    forecast.edited(editor.text());
    const dirty = !base || editor.text() !== base.text;
    discard.hidden = !dirty || !base;
  }

  function discardDraft() {
    clearDraft(ctx.storage, site);
    if (editor && base) editor.setText(base.text);
    say(draftNote, t("editor.discarded"));
    discard.hidden = true;
  }

  function showBase() {
    baseLine.textContent = base ? t("editor.base", { version: shortVersion(base.version) })
      : t("editor.baseNone");
    if (base) baseLine.title = base.version;
  }

  async function push() {
    if (!editor) return;
    const text = editor.text();
    pushButton.disabled = true;
    pushButton.textContent = t("editor.pushing");
    say(pushMessage, "");
    try {
      const reply = await api.push(text, note.value.trim());
      if (!alive) return;
      if (reply.status === 422) {
        refused(reply.data);
        say(pushMessage, t("editor.refused"), "error");
        return;
      }
      const data = reply.data;
      base = { text, version: data.version };
      clearDraft(ctx.storage, site);
      showBase();
      discard.hidden = true;
      say(draftNote, "");
      note.value = "";
      say(pushMessage, data.unchanged ? t("editor.unchanged", { version: shortVersion(data.version) })
        : t("editor.pushed", { version: shortVersion(data.version), rules: number(data.rules, lang) }), "ok");
      showProblems(allProblems(data));
    } catch (error) {
      if (alive && error.status !== 401) say(pushMessage, describeError(t, error), "error");
    } finally {
      pushButton.disabled = false;
      pushButton.textContent = t("editor.push");
    }
  }

  async function load() {
    let active;
    try {
      active = await api.active();
    } catch (error) {
      if (alive && error.status !== 401) say(pushMessage, describeError(t, error), "error");
      return;
    }
    if (!alive) return;
    base = active;
    showBase();
    const draft = loadDraft(ctx.storage, site);
    const restored = draft && (!base || draft.text !== base.text);
    const text = restored ? draft.text : base ? base.text : `site: ${site}\nrules:\n`;
    replace(host);
    editor = createEditor({ parent: host, text, nonce: ctx.nonce, label: t("editor.label"), t, lint,
      onChange: changed });
    if (restored) {
      say(draftNote, t("editor.draftRestored"), "ok");
      discard.hidden = !base;
    }
  }

  const node = h("section", { class: "editor-view", "aria-labelledby": "editor-title" },
    h("div", { class: "view-head" }, h("h2", { id: "editor-title" }, t("editor.title")), baseLine),
    h("div", { class: "draft-line" }, draftNote, discard),
    h("div", { class: "editor-grid" },
      h("div", { class: "editor-main" },
        h("p", { class: "editor-label", id: "editor-label" }, t("editor.label")),
        host,
        pushForm, pushMessage,
        h("section", { class: "problems", "aria-labelledby": "problems-title" },
          h("h3", { id: "problems-title" }, t("editor.problems")), lintStatus, problemsList),
        forecast.node),
      h("aside", { class: "editor-side" }, explain.node, preview.node)));
  replace(host, h("p", { class: "loading" }, t("common.loading")));
  return {
    node,
    mounted: load,
    save: keepDraft,
    destroy: () => {
      alive = false;
      if (saveTimer) ctx.win.clearTimeout(saveTimer);
      preview.clear();
      forecast.destroy();
      if (editor) editor.destroy();
    },
  };
}
