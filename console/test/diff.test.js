import test from "node:test";
import assert from "node:assert/strict";
import { foldDiff } from "../src/diff.js";

const same = (n, text = `line ${n}`) => ({ op: " ", old: n, new: n, text });

test("long unchanged stretches fold, keeping three lines of context around each change", () => {
  const lines = [];
  for (let n = 1; n <= 10; n += 1) lines.push(same(n));
  lines.push({ op: "-", old: 11, new: null, text: "    text: 옛 문구" });
  lines.push({ op: "+", old: null, new: 11, text: "    text: <img src=x onerror=alert(1)>" });
  for (let n = 12; n <= 20; n += 1) lines.push({ op: " ", old: n, new: n, text: `line ${n}` });
  const rows = foldDiff(lines);
  assert.deepEqual(rows[0], { kind: "skip", count: 7 });
  assert.deepEqual(rows.slice(1, 4).map((r) => r.old), [8, 9, 10]);
  assert.equal(rows[4].op, "-");
  assert.equal(rows[5].op, "+");
  assert.equal(rows[5].text, "    text: <img src=x onerror=alert(1)>");
  assert.deepEqual(rows.slice(6, 9).map((r) => r.new), [12, 13, 14]);
  assert.deepEqual(rows[9], { kind: "skip", count: 6 });
  assert.equal(rows.length, 10);
});

test("nothing folds when changes are close together or the file is short", () => {
  const lines = [same(1), { op: "+", old: null, new: 2, text: "x" }, same(3), same(4),
    { op: "-", old: 5, new: null, text: "y" }];
  assert.equal(foldDiff(lines).filter((r) => r.kind === "skip").length, 0);
  assert.deepEqual(foldDiff([]), []);
  assert.deepEqual(foldDiff([same(1), same(2)]), [{ kind: "skip", count: 2 }]);
});
