// The console's entry point, loaded by the engine's /admin/ page: the page
// gives the language (<html lang>), the CSP nonce for the editor's styles
// (<meta name="csp-nonce">) and the mount point (<main id="ondo-console">).
import { pickLanguage, translator } from "./messages.js";
import { startConsole } from "./app.js";

function boot(win) {
  const doc = win.document;
  const root = doc.getElementById("ondo-console");
  if (!root) return;
  const lang = pickLanguage(doc.documentElement.lang);
  const meta = doc.querySelector('meta[name="csp-nonce"]');
  startConsole({ root, lang, t: translator(lang), nonce: meta ? meta.content : "", win });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => boot(window));
else boot(window);
