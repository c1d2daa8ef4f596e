// The size budget: the minified widget, gzipped, at most 12 KB.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET = 12 * 1024;
const bundle = readFileSync(new URL("../../engine/static/widget.js", import.meta.url));
const size = gzipSync(bundle, { level: 9 }).length;
console.log(`widget.js: ${bundle.length} bytes, ${size} bytes gzipped (budget ${BUDGET})`);
if (size > BUDGET) {
  console.error("widget.js is over its size budget");
  process.exit(1);
}
