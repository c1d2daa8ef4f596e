// Versions: every pushed file with its note and time (site time zone), a diff
// between any two, and rollback after a confirmation dialog.
import { field, h, notice, replace, say } from "./dom.js";
import { dateTime, number, shortVersion } from "./format.js";
import { OP_CLASS, foldDiff } from "./diff.js";
import { describeError } from "./errors.js";

function versionOption(t, ctx, v) {
  return h("option", { value: v.version },
    `${shortVersion(v.version)} · ${dateTime(v.created_at, ctx.tz)}${v.note ? ` · ${v.note}` : ""}`);
}

// A modal confirmation (<dialog>): resolves true on confirm, false otherwise.
export function confirmDialog(t, { title, text, confirm }) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "button", class: "primary danger", value: "ok" }, confirm);
    const cancel = h("button", { type: "button", value: "cancel" }, t("common.cancel"));
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title",
      "aria-describedby": "confirm-text" },
    h("h2", { id: "confirm-title" }, title), h("p", { id: "confirm-text" }, text),
    h("div", { class: "actions" }, cancel, ok));
    let answer = false;
    ok.addEventListener("click", () => { answer = true; dialog.close(); });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

export function diffTable(t, lang, data) {
  const rows = foldDiff(data.lines || []);
  const body = h("tbody", {}, rows.map((row) => (row.kind === "skip"
    ? h("tr", { class: "skip" }, h("td", { colspan: "4" }, t("versions.skipped", { n: number(row.count, lang) })))
    : h("tr", { class: OP_CLASS[row.op] || "same" },
      h("td", { class: "ln" }, row.old ?? ""), h("td", { class: "ln" }, row.new ?? ""),
      h("td", { class: "op", "aria-hidden": "true" }, row.op === " " ? "" : row.op === "-" ? "−" : "+"),
      h("td", { class: "code" }, h("code", {}, row.text))))));
  return h("div", { class: "diff" },
    h("p", { class: "diff-summary" }, rows.length && (data.added || data.removed)
      ? t("versions.changes", { added: number(data.added, lang), removed: number(data.removed, lang) })
      : t("versions.same")),
    h("div", { class: "table-wrap" }, h("table", { class: "diff-table" },
      h("caption", { class: "visually-hidden" }, t("versions.diffTable", {
        from: shortVersion(data.from), to: shortVersion(data.to) })),
      h("thead", { class: "visually-hidden" }, h("tr", {},
        h("th", { scope: "col" }, t("versions.oldLine")), h("th", { scope: "col" }, t("versions.newLine")),
        h("th", { scope: "col" }, ""), h("th", { scope: "col" }, ""))),
      body)));
}

export function versionsView(ctx) {
  const { t, lang, api } = ctx;
  let alive = true;
  const message = notice("status");
  say(message, "");
  const list = h("div", { class: "versions-list" }, h("p", { class: "loading" }, t("common.loading")));
  const fromSelect = h("select", { name: "from" });
  const toSelect = h("select", { name: "to" });
  const diffOut = h("div", { class: "diff-out" });
  const diffForm = h("form", { class: "diff-form" },
    field(t("versions.from"), fromSelect), field(t("versions.to"), toSelect),
    h("button", { type: "submit" }, t("versions.compare")));
  diffForm.addEventListener("submit", (event) => {
    event.preventDefault();
    compare();
  });

  async function compare() {
    if (!fromSelect.value || !toSelect.value) return;
    replace(diffOut, h("p", { class: "loading" }, t("common.loading")));
    try {
      const data = await api.diff(fromSelect.value, toSelect.value);
      if (alive) replace(diffOut, diffTable(t, lang, data));
    } catch (error) {
      if (alive && error.status !== 401) {
        replace(diffOut);
        say(message, describeError(t, error), "error");
      }
    }
  }

  async function rollback(v) {
    const sure = await confirmDialog(t, { title: t("versions.confirmTitle"),
      text: t("versions.confirmText", { version: shortVersion(v.version) }), confirm: t("versions.confirm") });
    if (!sure || !alive) return;
    try {
      const data = await api.rollback(v.version);
      say(message, t("versions.rolledBack", { version: shortVersion(data.version) }), "ok");
      await load(false);
    } catch (error) {
      if (alive && error.status !== 401) say(message, describeError(t, error), "error");
    }
  }

  function draw(versions) {
    diffSection.hidden = versions.length < 2;
    if (!versions.length) {
      replace(list, h("p", { class: "empty" }, t("versions.none")));
      return;
    }
    const rows = versions.map((v) => h("tr", { class: v.active ? "active" : "", dataset: { version: v.version } },
      h("th", { scope: "row" }, h("code", { title: v.version }, shortVersion(v.version))),
      h("td", { class: "note" }, v.note ? v.note : h("span", { class: "muted" }, t("versions.noNote"))),
      h("td", {}, dateTime(v.created_at, ctx.tz)),
      h("td", { class: "num" }, number(v.rules, lang)),
      h("td", {}, v.active ? h("span", { class: "badge state-on" }, t("versions.active")) : ""),
      h("td", {}, v.active ? "" : h("button", { type: "button", class: "small-button",
        "aria-label": t("versions.rollbackLabel", { version: shortVersion(v.version) }),
        onclick: () => rollback(v) }, t("versions.rollback")))));
    replace(list, h("div", { class: "table-wrap" }, h("table", { class: "versions" },
      h("caption", {}, t("versions.caption", { timezone: ctx.tz })),
      h("thead", {}, h("tr", {}, ["versions.version", "versions.note", "versions.created", "versions.rules",
        "versions.status", "versions.actions"].map((key) => h("th", { scope: "col" }, t(key))))),
      h("tbody", {}, rows))));
    const keepFrom = fromSelect.value;
    const keepTo = toSelect.value;
    replace(fromSelect, versions.map((v) => versionOption(t, ctx, v)));
    replace(toSelect, versions.map((v) => versionOption(t, ctx, v)));
    fromSelect.value = keepFrom;
    if (!fromSelect.value) fromSelect.value = (versions[1] || versions[0]).version;
    toSelect.value = keepTo;
    if (!toSelect.value) toSelect.value = versions[0].version;
  }

  async function load(first = true) {
    try {
      const versions = await api.versions();
      if (!alive) return;
      draw(versions);
      if (first && versions.length > 1) compare();
    } catch (error) {
      if (alive && error.status !== 401) {
        replace(list);
        say(message, describeError(t, error), "error");
      }
    }
  }

  const diffSection = h("section", { class: "diff-section", "aria-labelledby": "diff-title", hidden: true },
    h("h3", { id: "diff-title" }, t("versions.diff")), diffForm, diffOut);
  const node = h("section", { class: "versions-view", "aria-labelledby": "versions-title" },
    h("div", { class: "view-head" }, h("h2", { id: "versions-title" }, t("versions.title"))),
    message, list, diffSection);
  return { node, mounted: () => load(true), destroy: () => { alive = false; } };
}
