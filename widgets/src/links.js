// Only http(s) links leave the widget, and a link without a scheme must stay on
// the shop: a browser reads "\" as "/" before the query, so "/\evil.example",
// "\/evil.example" and "\\evil.example" start a host exactly as "//evil.example"
// does. The rule compiler and the product feed refuse such links (rules/links.py);
// this is the same promise at run time, checked on the URL the browser resolves.
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export function safeLink(value, base) {
  if (typeof value !== "string" || !value || /[\u0000-\u001f\u007f\s]/.test(value)) return null;
  try {
    const url = new URL(value, base);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (!SCHEME.test(value) && url.origin !== new URL(base).origin) return null;
    return url.href;
  } catch (_) {
    return null;
  }
}
