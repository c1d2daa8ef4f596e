import test from "node:test";
import assert from "node:assert/strict";
import { allProblems, problemRange, toDiagnostics } from "../src/lint.js";

const FILE = [
  "site: demo-shop",
  "rules:",
  "  - id: nudge",
  "    if: visit_cont >= 2 and is_member",
  "    do: { widget: push_note, title: hi }",
  "",
].join("\n");

const at = (text, range) => text.slice(range.from, range.to);

test("a problem's line and column point at the word to underline", () => {
  const range = problemRange(FILE, 4, 9);
  assert.equal(at(FILE, range), "visit_cont");
  assert.equal(FILE.slice(0, range.from).split("\n").length, 4);
  assert.equal(at(FILE, problemRange(FILE, 4, 29)), "is_member");
  assert.equal(at(FILE, problemRange(FILE, 3, 9)), "nudge");
});

test("on a space or a symbol one character is underlined; past the end, the line's last", () => {
  assert.equal(at(FILE, problemRange(FILE, 4, 19)), " ");
  assert.equal(at(FILE, problemRange(FILE, 4, 20)), ">=");
  assert.equal(at(FILE, problemRange(FILE, 5, 9)), "{");
  assert.equal(at(FILE, problemRange(FILE, 2, 99)), ":");
});

test("lines and columns out of range are clamped into the file", () => {
  const last = problemRange(FILE, 99, 1);
  assert.equal(last.from, FILE.length);
  assert.equal(last.to, FILE.length);
  assert.equal(at(FILE, problemRange(FILE, 0, 0)), "site");
});

test("problems become diagnostics with severity, hint, line and column kept", () => {
  const result = {
    errors: [{ file: "demo-shop.yaml", line: 4, column: 9, message: "unknown attribute 'visit_cont'",
      hint: "did you mean 'visit_count'?", severity: "error" }],
    warnings: [{ file: "demo-shop.yaml", line: 3, column: 9, message: "no frequency", hint: "", severity: "warning" }],
  };
  const [error, warning] = toDiagnostics(FILE, allProblems(result));
  assert.equal(error.severity, "error");
  assert.equal(at(FILE, error), "visit_cont");
  assert.equal(error.hint, "did you mean 'visit_count'?");
  assert.deepEqual([error.line, error.column], [4, 9]);
  assert.equal(warning.severity, "warning");
  assert.equal(at(FILE, warning), "nudge");
});
