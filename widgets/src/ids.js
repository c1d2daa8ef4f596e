// Random ids: the visitor id (first-party, localStorage with a cookie
// fallback) and event ids.
import { VISITOR_ID } from "./protocol.js";

const VISITOR_KEY = "ondo_vid";
const VALID = new RegExp(`^${VISITOR_ID}$`);
const IN_COOKIE = new RegExp(`(?:^|;\\s*)${VISITOR_KEY}=(${VISITOR_ID})(?:;|$)`);

export function randomId(bytes = 12, crypto = globalThis.crypto) {
  const data = new Uint8Array(bytes);
  crypto.getRandomValues(data);
  return Array.from(data, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function visitorId(storage, doc, make = randomId) {
  let id = null;
  try {
    id = storage && storage.getItem(VISITOR_KEY);
  } catch (_) {
    id = null;
  }
  if (!id && doc) {
    const match = IN_COOKIE.exec(doc.cookie || "");
    id = match ? match[1] : null;
  }
  if (!id || !VALID.test(id)) id = make();
  try {
    if (storage) storage.setItem(VISITOR_KEY, id);
  } catch (_) {
    /* blocked storage: the cookie below keeps it */
  }
  if (doc) doc.cookie = `ondo_vid=${id}; path=/; max-age=34560000; SameSite=Lax`;
  return id;
}
