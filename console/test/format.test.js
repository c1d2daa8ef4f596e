import test from "node:test";
import assert from "node:assert/strict";
import { addDays, dateTime, dayIn, daysBetween, isDay, lastDays, percent, shortDay, signedPercent,
  signedPoints, signedWon, won, wonShort } from "../src/format.js";

const START = 1_795_000_000; // 2026-11-18 20:06 in Seoul, 11:06 UTC

test("won amounts", () => {
  assert.equal(won(1234000, "ko"), "1,234,000원");
  assert.equal(won(0, "ko"), "0원");
  assert.equal(won(-5000, "ko"), "−5,000원");
  assert.equal(won(1234000.4, "en"), "₩1,234,000");
  assert.equal(won(null, "ko"), "—");
  assert.equal(signedWon(1500, "ko"), "+1,500원");
  assert.equal(signedWon(-1500, "ko"), "−1,500원");
});

test("short won for chart axes reads 만 and 억 in Korean", () => {
  assert.equal(wonShort(5000, "ko"), "5,000");
  assert.equal(wonShort(300000, "ko"), "30만");
  assert.equal(wonShort(12_345_678, "ko"), "1,234.6만");
  assert.equal(wonShort(250_000_000, "ko"), "2.5억");
  assert.equal(wonShort(12_300_000, "en"), "12.3M");
  assert.equal(wonShort(4500, "en"), "4.5K");
});

test("percentages and signed points", () => {
  assert.equal(percent(0.0321, "ko"), "3.2%");
  assert.equal(percent(null, "ko"), "—");
  assert.equal(signedPoints(0.032, "ko"), "+3.2");
  assert.equal(signedPoints(-0.005, "ko"), "−0.5");
  assert.equal(signedPoints(0, "ko"), "0");
  assert.equal(signedPercent(0.25, "en"), "+25%");
});

test("times are written in the site's time zone, not the browser's", () => {
  assert.equal(dateTime(START, "Asia/Seoul"), "2026-11-18 20:06");
  assert.equal(dateTime(START, "UTC"), "2026-11-18 11:06");
  assert.equal(dateTime(START, "America/New_York"), "2026-11-18 06:06");
  // 23:30 UTC is already the next day in Seoul.
  const late = Date.UTC(2026, 10, 18, 23, 30);
  assert.equal(dayIn("UTC", late), "2026-11-18");
  assert.equal(dayIn("Asia/Seoul", late), "2026-11-19");
});

test("the default range is the last 14 days up to the site's today", () => {
  assert.deepEqual(lastDays("Asia/Seoul", Date.UTC(2026, 10, 18, 23, 30)), { from: "2026-11-06", to: "2026-11-19" });
  assert.deepEqual(lastDays("UTC", Date.UTC(2026, 10, 18, 23, 30)), { from: "2026-11-05", to: "2026-11-18" });
  assert.equal(daysBetween("2026-11-05", "2026-11-18").length, 14);
});

test("day arithmetic and checks", () => {
  assert.equal(addDays("2026-12-31", 1), "2027-01-01");
  assert.equal(addDays("2024-03-01", -1), "2024-02-29");
  assert.deepEqual(daysBetween("2026-02-27", "2026-03-02"), ["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
  assert.equal(isDay("2026-11-18"), true);
  assert.equal(isDay("2026-02-30"), false);
  assert.equal(isDay("18/11/2026"), false);
  assert.equal(shortDay("2026-01-05"), "1/5");
});
