// Numbers, won, percentages and dates as the marketer reads them: Korean
// conventions by default, dates always in the site's time zone (never the
// browser's). Pure functions of their arguments.

const LOCALES = { ko: "ko-KR", en: "en-US" };

export function locale(lang) {
  return LOCALES[lang] || LOCALES.ko;
}

export function number(n, lang, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return new Intl.NumberFormat(locale(lang), {
    maximumFractionDigits: digits, minimumFractionDigits: 0,
  }).format(n);
}

// 1234000 -> "1,234,000원" (ko) / "₩1,234,000" (en).
export function won(n, lang) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  const rounded = Math.round(n);
  const sign = rounded < 0 ? "−" : "";
  const digits = number(Math.abs(rounded), "en");
  return lang === "en" ? `${sign}₩${digits}` : `${sign}${digits}원`;
}

// For chart axes, where space is short: 12300000 -> "1,230만" (ko) / "12.3M" (en).
export function wonShort(n, lang) {
  const abs = Math.abs(n);
  const sign = n < 0 ? "−" : "";
  if (lang === "en") {
    if (abs >= 1e9) return `${sign}${trim(abs / 1e9)}B`;
    if (abs >= 1e6) return `${sign}${trim(abs / 1e6)}M`;
    if (abs >= 1e3) return `${sign}${trim(abs / 1e3)}K`;
    return `${sign}${number(abs, "en")}`;
  }
  if (abs >= 1e8) return `${sign}${trim(abs / 1e8)}억`;
  if (abs >= 1e4) return `${sign}${number(Math.round(abs / 1e4 * 10) / 10, "ko", 1)}만`;
  return `${sign}${number(abs, "ko")}`;
}

function trim(x) {
  return String(Math.round(x * 10) / 10);
}

// 0.0321 -> "3.2%".
export function percent(ratio, lang, digits = 1) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
  return `${number(ratio * 100, lang, digits)}%`;
}

// A difference of rates, signed, in percentage points: 0.032 -> "+3.2".
export function signedPoints(ratio, lang, digits = 1) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
  const value = Math.round(ratio * 100 * 10 ** digits) / 10 ** digits;
  const text = number(Math.abs(value), lang, digits);
  return value > 0 ? `+${text}` : value < 0 ? `−${text}` : text;
}

// A signed ratio as a percentage: 0.25 -> "+25%".
export function signedPercent(ratio, lang, digits = 0) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
  return `${signedPoints(ratio, lang, digits)}%`;
}

export function signedWon(n, lang) {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  const rounded = Math.round(n);
  return rounded > 0 ? `+${won(rounded, lang)}` : won(rounded, lang);
}

function parts(epochMs, timeZone) {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  const out = {};
  for (const part of fmt.formatToParts(new Date(epochMs))) out[part.type] = part.value;
  return out;
}

// Epoch seconds -> "2026-11-18 20:06" in the site's time zone.
export function dateTime(epochSeconds, timeZone) {
  if (epochSeconds === null || epochSeconds === undefined) return "—";
  const p = parts(epochSeconds * 1000, timeZone);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

// The site's calendar day at an instant: "YYYY-MM-DD".
export function dayIn(timeZone, epochMs) {
  const p = parts(epochMs, timeZone);
  return `${p.year}-${p.month}-${p.day}`;
}

export function addDays(isoDay, n) {
  const [y, m, d] = isoDay.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + n));
  return date.toISOString().slice(0, 10);
}

// Every day from `first` to `last`, both included.
export function daysBetween(first, last) {
  const out = [];
  for (let day = first; day <= last && out.length <= 400; day = addDays(day, 1)) out.push(day);
  return out;
}

// The last `n` days up to today in the site's time zone: { from, to }.
export function lastDays(timeZone, epochMs, n = 14) {
  const to = dayIn(timeZone, epochMs);
  return { from: addDays(to, -(n - 1)), to };
}

export function isDay(text) {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && addDays(text, 0) === text;
}

// "2026-11-18" -> "11/18" for chart axes.
export function shortDay(isoDay) {
  return `${Number(isoDay.slice(5, 7))}/${Number(isoDay.slice(8, 10))}`;
}

// The first characters of a version id, as the CLI prints it.
export function shortVersion(version) {
  return String(version || "").slice(0, 8);
}
