// The rule file's editor: CodeMirror 6 in YAML mode, with the validate API as
// its linter (run 400 ms after the marketer stops typing). Tab is left to the
// page's focus order (YAML is indented with spaces; the editor keeps the
// current line's indentation on Enter), so the editor never traps the keyboard.
import { EditorState } from "@codemirror/state";
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap,
  lineNumbers } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, indentUnit,
  syntaxHighlighting } from "@codemirror/language";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, lintKeymap, linter, setDiagnostics } from "@codemirror/lint";
import { h } from "./dom.js";

export const LINT_DELAY_MS = 400;

// A diagnostic's text in the tooltip: its message, then its hint, as text.
function renderer(t, diagnostic) {
  return () => h("div", { class: "diag" }, h("span", { class: "diag-message" }, diagnostic.message),
    diagnostic.hint ? h("span", { class: "diag-hint" }, t("editor.hint", { hint: diagnostic.hint })) : null);
}

export function withRenderers(t, diagnostics) {
  return diagnostics.map((d) => ({
    from: d.from, to: d.to, severity: d.severity, source: "ondo",
    message: d.hint ? `${d.message} — ${t("editor.hint", { hint: d.hint })}` : d.message,
    renderMessage: renderer(t, d),
  }));
}

// lint(text) -> Promise<diagnostics> (the console's own shape, see lint.js).
export function createEditor({ parent, text, nonce, label, t, lint, onChange }) {
  const source = async (view) => withRenderers(t, await lint(view.state.doc.toString()));
  const state = EditorState.create({
    doc: text,
    extensions: [
      EditorView.cspNonce.of(nonce || ""),
      lineNumbers(), highlightActiveLineGutter(), highlightActiveLine(), drawSelection(),
      history(), indentOnInput(), bracketMatching(),
      indentUnit.of("  "), EditorState.tabSize.of(2),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      yaml(),
      linter(source, { delay: LINT_DELAY_MS }),
      lintGutter(),
      keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap]),
      EditorView.lineWrapping,
      EditorView.contentAttributes.of({ "aria-label": label, "aria-multiline": "true" }),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    ],
  });
  const view = new EditorView({ state, parent });
  return {
    view,
    text: () => view.state.doc.toString(),
    setText: (next) => view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next } }),
    // Problems known without waiting for the linter (a refused push).
    show: (diagnostics) => view.dispatch(setDiagnostics(view.state, withRenderers(t, diagnostics))),
    goTo: (pos) => {
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
    destroy: () => view.destroy(),
  };
}
