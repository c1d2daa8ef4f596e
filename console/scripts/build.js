// Bundles the console for the engine to serve at /admin/: one minified IIFE
// (console.js: the modules, CodeMirror, uPlot and the widget's renderer) and
// one stylesheet (console.css: ours and uPlot's), in engine/static/console/.
import { build } from "esbuild";

const out = new URL("../../engine/static/console/", import.meta.url).pathname;

await Promise.all([
  build({
    entryPoints: [new URL("../src/index.js", import.meta.url).pathname],
    bundle: true, minify: true, format: "iife", target: "es2020",
    legalComments: "none", charset: "utf8", outfile: `${out}console.js`, logLevel: "warning",
  }),
  build({
    entryPoints: [new URL("../src/console.css", import.meta.url).pathname],
    bundle: true, minify: true, target: ["chrome90", "firefox90", "safari14"],
    outfile: `${out}console.css`, logLevel: "warning",
  }),
]);
