// A sample profile for explain, from the form's text fields or from raw JSON.
// Pure: returns {profile} or {error: {key, params}} (a message key).
import { SAMPLE_FIELDS } from "./catalogue.js";

// "300000", "300,000", "300_000", "30만", "5천", "1.5만" -> a number; NaN otherwise.
export function parseAmount(text) {
  const clean = String(text).trim().replace(/[,_\s]/g, "").replace(/원$/, "");
  const match = /^(-?\d+(?:\.\d+)?)(억|만|천)?$/.exec(clean);
  if (!match) return Number.NaN;
  const unit = { 억: 1e8, 만: 1e4, 천: 1e3 }[match[2]] || 1;
  return Math.round(Number(match[1]) * unit);
}

// values: attribute name -> the field's string ("" = not set).
export function profileFromForm(values, fields = SAMPLE_FIELDS) {
  const profile = {};
  for (const { name, kind } of fields) {
    const raw = values[name];
    if (raw === undefined || raw === null || String(raw).trim() === "") continue;
    if (kind === "count" || kind === "krw") {
      const n = parseAmount(raw);
      if (!Number.isFinite(n)) return { error: { key: "explain.numberInvalid", params: { name } } };
      profile[name] = n;
    } else if (kind === "bool") {
      profile[name] = raw === "true";
    } else {
      profile[name] = String(raw).trim();
    }
  }
  return { profile };
}

export function profileFromJson(text) {
  let value;
  try {
    value = JSON.parse(text || "{}");
  } catch (error) {
    return { error: { key: "explain.jsonInvalid", params: { message: error.message } } };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    return { error: { key: "explain.jsonObject", params: {} } };
  }
  return { profile: value };
}
