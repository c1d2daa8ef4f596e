import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { MESSAGES, pickLanguage, placeholders, translator } from "../src/messages.js";
import { REASONS } from "../src/stats.js";
import { SAMPLE_FIELDS } from "../src/catalogue.js";

const SRC = new URL("../src/", import.meta.url);
// The modules' code, comments left out.
const sources = readdirSync(SRC).filter((f) => f.endsWith(".js"))
  .map((f) => [f, readFileSync(new URL(f, SRC), "utf8")
    .replace(/^\s*\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "")]);
// Number conventions, not UI text: the won sign and the 만/억 units in
// format.js, the units a marketer may type in sample.js.
const FORMATS = new Set(["messages.js", "format.js", "sample.js"]);

test("Korean and English carry the same keys, none empty, with the same placeholders", () => {
  const ko = Object.keys(MESSAGES.ko).sort();
  const en = Object.keys(MESSAGES.en).sort();
  assert.deepEqual(en, ko);
  for (const key of ko) {
    assert.ok(MESSAGES.ko[key].trim(), `ko ${key} is empty`);
    assert.ok(MESSAGES.en[key].trim(), `en ${key} is empty`);
    assert.deepEqual(placeholders(MESSAGES.en[key]), placeholders(MESSAGES.ko[key]), key);
  }
});

test("every key a component asks for exists", () => {
  const asked = new Set();
  for (const [, text] of sources) {
    for (const m of text.matchAll(/\bt\(\s*"([\w.]+)"/g)) asked.add(m[1]);
  }
  // Keys built from data: one per value the data can take.
  for (const state of ["on", "off", "off_schedule"]) asked.add(`state.${state}`);
  for (const verdict of ["lift", "drop", "no_measurable_lift", "not_enough_data"]) asked.add(`verdict.${verdict}`);
  for (const reason of [...REASONS, "shown", "sent"]) asked.add(`reason.${reason}`);
  for (const { name } of SAMPLE_FIELDS) asked.add(`attr.${name}`);
  for (const mode of ["form", "json", "visitor"]) asked.add(`explain.${mode}`);
  for (const severity of ["error", "warning"]) asked.add(`editor.severity.${severity}`);
  for (const key of asked) assert.ok(key in MESSAGES.ko, `missing message ${key}`);
  assert.ok(asked.size > 100);
});

test("no UI text is hard-coded in the components: Korean lives in messages.js only", () => {
  for (const [file, text] of sources) {
    if (FORMATS.has(file)) continue;
    assert.doesNotMatch(text, /[\uac00-\ud7a3]/, `${file} holds Korean text`);
  }
});

test("the console never builds markup from strings, never evaluates code", () => {
  for (const [file, text] of sources) {
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/,
      file);
  }
});

test("t fills placeholders; the page's language picks the table", () => {
  const ko = translator("ko");
  assert.equal(ko("signin.rate", { seconds: 30 }), "로그인 시도가 너무 많습니다. 30초 후에 다시 시도하세요.");
  assert.equal(translator("en")("editor.at", { line: 3, column: 9 }), "line 3, column 9");
  assert.equal(ko("no.such.key"), "no.such.key");
  assert.equal(pickLanguage("en"), "en");
  assert.equal(pickLanguage("en-US"), "en");
  assert.equal(pickLanguage("ko"), "ko");
  assert.equal(pickLanguage(""), "ko");
  assert.equal(pickLanguage("fr"), "ko");
});
