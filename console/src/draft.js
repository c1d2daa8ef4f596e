// The editor's unsaved draft, kept in sessionStorage per site so that an
// expired session (or a trip to another view) loses nothing. Only the rule
// file's text and the version it started from: never the admin token.

const key = (site) => `ondo.console.draft.${site}`;

export function loadDraft(storage, site) {
  try {
    const raw = storage && storage.getItem(key(site));
    const draft = raw ? JSON.parse(raw) : null;
    return draft && typeof draft.text === "string" ? draft : null;
  } catch (_) {
    return null;
  }
}

export function saveDraft(storage, site, text, base) {
  try {
    if (storage) storage.setItem(key(site), JSON.stringify({ text, base: base || "" }));
  } catch (_) {
    /* storage full or disabled: the draft stays in memory only */
  }
}

export function clearDraft(storage, site) {
  try {
    if (storage) storage.removeItem(key(site));
  } catch (_) {
    /* nothing to clear */
  }
}
