// Explain: the file being edited, evaluated against a sample profile (a form
// for the common attributes, or raw JSON) or a live visitor's stored profile.
// Per rule: matched or not, each predicate with the value it read, what the
// delivery policy decided (shown, or why not), and a preview button.
import { field, h, notice, replace, say, uid } from "./dom.js";
import { SAMPLE_FIELDS, TRIGGERS } from "./catalogue.js";
import { profileFromForm, profileFromJson } from "./sample.js";
import { describeError } from "./errors.js";
import { shortVersion } from "./format.js";

const MODES = ["form", "json", "visitor"];

// The engine's reason a rule is not a candidate, in the console's words.
export function reasonKey(reason) {
  if (!reason) return null;
  if (reason === "disabled") return "explain.reason.disabled";
  if (reason === "condition is false") return "explain.reason.false";
  if (reason.startsWith("not triggered")) return "explain.reason.trigger";
  return null;
}

function sampleControl(t, spec) {
  if (spec.kind === "bool") {
    return h("select", { name: spec.name },
      h("option", { value: "" }, t("explain.unset")),
      h("option", { value: "true" }, t("explain.yes")),
      h("option", { value: "false" }, t("explain.no")));
  }
  if (spec.kind === "choice") {
    return h("select", { name: spec.name }, h("option", { value: "" }, t("explain.unset")),
      spec.choices.map((c) => h("option", { value: c }, c)));
  }
  const numeric = spec.kind === "count" || spec.kind === "krw";
  return h("input", { name: spec.name, inputmode: numeric ? "numeric" : null, autocomplete: "off",
    spellcheck: "false", placeholder: spec.kind === "text" ? "/product/1001" : null });
}

function actualText(t, value) {
  if (value === null || value === undefined) return t("explain.missing");
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value);
}

export function explainPanel(ctx, { text, preview, onRulesProblems }) {
  const { t, api } = ctx;
  const modeName = uid("mode");
  const panes = {};
  const radios = MODES.map((mode) => {
    const input = h("input", { type: "radio", name: modeName, value: mode, checked: mode === "form",
      id: uid("mode") });
    input.addEventListener("change", () => {
      for (const m of MODES) panes[m].hidden = m !== mode;
    });
    return h("span", { class: "radio" }, input, h("label", { for: input.id }, t(`explain.${mode}`)));
  });
  const controls = Object.fromEntries(SAMPLE_FIELDS.map((spec) => [spec.name, sampleControl(t, spec)]));
  panes.form = h("div", { class: "sample-form" },
    SAMPLE_FIELDS.map((spec) => field(t(`attr.${spec.name}`), controls[spec.name])));
  const json = h("textarea", { name: "profile", rows: "6", spellcheck: "false",
    placeholder: "{\"visit_count\": 12, \"purchase_total\": 350000}" });
  panes.json = h("div", { hidden: true }, field(t("explain.profileJson"), json));
  const visitor = h("input", { name: "visitor", autocomplete: "off", spellcheck: "false" });
  panes.visitor = h("div", { hidden: true }, field(t("explain.visitorId"), visitor));
  const trigger = h("select", { name: "trigger" }, TRIGGERS.map((name) => h("option", { value: name }, name)));
  const run = h("button", { type: "submit" }, t("explain.run"));
  const problem = notice("alert");
  say(problem, "");
  const results = h("div", { class: "explain-results" });
  const form = h("form", { class: "explain-form" },
    h("fieldset", { class: "modes" }, h("legend", {}, t("explain.mode")), radios),
    panes.form, panes.json, panes.visitor, field(t("explain.trigger"), trigger), run);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    explain();
  });

  function request() {
    const mode = form.querySelector(`input[name="${modeName}"]:checked`).value;
    const base = { rules: text(), trigger: trigger.value };
    if (mode === "visitor") {
      const id = visitor.value.trim();
      return id ? { body: { ...base, visitor: id } } : { error: { key: "explain.visitorMissing", params: {} } };
    }
    const sample = mode === "json" ? profileFromJson(json.value)
      : profileFromForm(Object.fromEntries(Object.entries(controls).map(([k, c]) => [k, c.value])));
    return sample.error ? sample : { body: { ...base, profile: sample.profile } };
  }

  async function explain() {
    say(problem, "");
    const { body, error } = request();
    if (error) {
      say(problem, t(error.key, error.params), "error");
      return;
    }
    run.disabled = true;
    run.textContent = t("explain.running");
    try {
      draw(await api.explain(body));
    } catch (failure) {
      if (failure.status === 401) return;
      const where = failure.field || "";
      if (failure.status === 422 && where === "rules") {
        say(problem, t("explain.fixFirst"), "error");
        onRulesProblems(failure.body);
      } else if (failure.status === 422 && where.startsWith("profile.")) {
        say(problem, t("explain.badAttribute", { name: where.slice(8), message: failure.message }), "error");
      } else {
        say(problem, describeError(t, failure), "error");
      }
    } finally {
      run.disabled = false;
      run.textContent = t("explain.run");
    }
  }

  function draw(data) {
    const entries = data.rules || [];
    const list = h("ul", { class: "explain-list" });
    for (const entry of entries) {
      const matched = Boolean(entry.matched);
      const why = reasonKey(entry.reason);
      const delivery = entry.delivery
        ? h("span", { class: `badge delivery-${entry.delivery}` }, entry.delivery === "lost_to" && entry.lost_to
          ? `${t("reason.lost_to")} (${t("explain.lostTo", { rule: entry.lost_to })})` : t(`reason.${entry.delivery}`))
        : null;
      const predicates = h("ul", { class: "predicates" }, (entry.predicates || []).map((p) => {
        const value = p.value ?? p.result;
        return h("li", { class: value ? "true" : "false" },
          h("span", { class: "truth" }, t(value ? "explain.true" : "explain.false")),
          h("code", {}, p.text), " ",
          h("span", { class: "muted" }, t("explain.actual", { value: actualText(t, p.actual) })));
      }));
      const show = entry.preview ? h("button", { type: "button", class: "small-button",
        onclick: () => preview.show(entry.rule, entry.preview) }, t("explain.previewRule", { rule: entry.rule })) : null;
      list.append(h("li", { class: `explain-rule ${matched ? "matched" : "unmatched"}`, dataset: { rule: entry.rule } },
        h("div", { class: "explain-head" }, h("code", { class: "rule-id" }, entry.rule),
          h("span", { class: `badge ${matched ? "yes" : "no"}` }, t(matched ? "explain.matched" : "explain.notMatched")),
          delivery),
        !matched && entry.reason ? h("p", { class: "why" }, `${t("explain.why")}: `,
          why ? t(why) : entry.reason) : null,
        predicates, show));
    }
    replace(results, h("h4", {}, t("explain.results", { version: shortVersion(data.version), trigger: data.trigger })),
      list);
    const first = entries.find((e) => e.preview && (e.delivery === "shown" || e.delivery === "sent"))
      || entries.find((e) => e.preview && e.matched);
    if (first) preview.show(first.rule, first.preview);
  }

  const node = h("section", { class: "explain", "aria-labelledby": "explain-title" },
    h("h3", { id: "explain-title" }, t("explain.title")),
    h("p", { class: "muted small" }, t("explain.intro")),
    form, problem, results);
  return { node };
}
