// Only http(s) and relative links leave the widget; anything else is dropped.
export function safeLink(value, base) {
  if (typeof value !== "string" || !value || /[\u0000-\u001f\u007f\s]/.test(value)) return null;
  if (value.startsWith("//") || value.startsWith("\\")) return null;
  try {
    const url = new URL(value, base);
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return url.href;
  } catch (_) {
    return null;
  }
}
