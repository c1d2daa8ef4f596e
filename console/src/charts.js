// Charts, drawn by uPlot: a daily bar chart per figure and a sparkline per
// rule. Each chart sits in a <figure> with a text alternative that lists
// the values, so the figures are readable without seeing the canvas.
import uPlot from "uplot";
import { h } from "./dom.js";
import { shortDay } from "./format.js";

const INK = "#3557d4";
// Steps of the value axis: 1, 2, 5, 10, 20, 50, ... (counts and won are whole numbers).
const STEPS = [];
for (let scale = 1; scale <= 1e12; scale *= 10) STEPS.push(scale, 2 * scale, 5 * scale);
const FILL = "rgba(53, 87, 212, 0.18)";

function xs(dates) {
  return dates.map((_, i) => i);
}

// The bars of one daily figure: `format` writes a value for the axis and legend.
export function dailyChart({ title, dates, values, format, short = format }) {
  const described = dates.map((date, i) => `${date}: ${format(values[i])}`).join(", ");
  const plot = h("div", { class: "plot" });
  const figure = h("figure", { class: "chart" },
    h("figcaption", { class: "chart-title" }, title),
    h("div", { role: "img", "aria-label": `${title}. ${described}` }, plot));
  let chart = null;
  const draw = () => {
    const width = Math.max(240, Math.floor(plot.clientWidth || 320));
    if (chart) {
      chart.setSize({ width, height: 180 });
      return;
    }
    chart = new uPlot({
      width, height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] },
        y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { space: 36, incrs: [1, 2, 7, 14, 28, 56], values: (u, splits) =>
          splits.map((i) => (Number.isInteger(i) && dates[i] ? shortDay(dates[i]) : "")) },
        { size: 64, incrs: STEPS, values: (u, splits) => splits.map((v) => short(v)) },
      ],
      series: [{}, { label: title, stroke: INK, fill: FILL, width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 48] }), points: { show: false },
        value: (u, v) => (v === null ? "" : format(v)) }],
    }, [xs(dates), values], plot);
  };
  return { node: figure, draw, destroy: () => chart && chart.destroy() };
}

// Small bars of the last days, no axes: the shape of a rule's activity.
export function sparkline({ label, dates, values }) {
  const plot = h("div", { class: "spark" });
  const described = dates.map((date, i) => `${shortDay(date)} ${values[i]}`).join(", ");
  const node = h("div", { class: "spark-wrap", role: "img", "aria-label": `${label}: ${described}`,
    dataset: { values: values.join(",") } }, plot);
  let chart = null;
  const draw = () => {
    if (chart) return;
    chart = new uPlot({
      width: 96, height: 32,
      legend: { show: false }, cursor: { show: false },
      axes: [{ show: false }, { show: false }],
      scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] },
        y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      series: [{}, { stroke: INK, fill: INK, width: 0, points: { show: false },
        paths: uPlot.paths.bars({ size: [0.7, 8] }) }],
    }, [xs(dates), values], plot);
  };
  return { node, draw, destroy: () => chart && chart.destroy() };
}
