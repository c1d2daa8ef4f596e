// The console's size budget, checked by ./scripts/test: console.js at most
// 512 KiB minified and 176 KiB gzipped; console.css at most 40 KiB (12 KiB gzipped).
// Measured at the start (bytes of minified output): CodeMirror 6 with YAML and
// lint ~360 KB (its view alone ~185 KB), uPlot ~52 KB, the console's own modules
// and the widget's renderer ~70 KB: ~480 KB, ~166 KB gzipped. The console is
// loaded by marketers, once, and cached; the storefront widget's own 12 KB
// budget (widgets/scripts/check-size.js) is separate and unaffected.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGETS = {
  "console.js": { raw: 512 * 1024, gzip: 176 * 1024 },
  "console.css": { raw: 40 * 1024, gzip: 12 * 1024 },
};

let over = false;
for (const [name, budget] of Object.entries(BUDGETS)) {
  const bundle = readFileSync(new URL(`../../engine/static/console/${name}`, import.meta.url));
  const gzipped = gzipSync(bundle, { level: 9 }).length;
  console.log(`${name}: ${bundle.length} bytes, ${gzipped} bytes gzipped ` +
    `(budget ${budget.raw} bytes, ${budget.gzip} gzipped)`);
  if (bundle.length > budget.raw || gzipped > budget.gzip) {
    console.error(`${name} is over its size budget`);
    over = true;
  }
}
if (over) process.exit(1);
