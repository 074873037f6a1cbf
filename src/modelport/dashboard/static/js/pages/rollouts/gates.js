// One chart per gate: the estimate, its always-valid interval and the bound it is judged
// against, over every kept analysis round (GET .../rollout/analyses).
import { fmt, h, replace, showState } from "../../core/dom.js";
import { palette, timeSeries, tones } from "../../core/charts.js";
import { verdictBadge } from "./common.js";

const isShare = (gate) => ["error_rate", "agreement", "accuracy"].includes(gate.metric) || gate.metric.endsWith("_ms");

function numbers(gate, value) {
  return isShare(gate) ? fmt.pct(value, 2) : fmt.num(value, 4);
}

function gateFigures(point) {
  const interval = point.interval ? `[${numbers(point, point.interval[0])}, ${numbers(point, point.interval[1])}]` : "—";
  const figure = (label, value) => h("div", { class: "figure" }, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
  const latency = point.metric.endsWith("_ms");
  return h(
    "div",
    { class: "figures" },
    figure(latency ? "share slower than threshold" : "estimate", numbers(point, point.estimate)),
    figure("always-valid interval", interval),
    figure(latency ? "bound (1 − q)" : "bound", numbers(point, point.bound)),
    figure("samples", `${fmt.int(point.n)} of ${fmt.int(point.min_samples)} needed`),
    latency ? figure(`${point.metric} candidate / threshold`, `${fmt.ms(point.candidate)} / ${fmt.ms(point.threshold)}`) : null,
    point.primary !== null && point.primary !== undefined && !latency ? figure("primary", numbers(point, point.primary)) : null,
  );
}

function stepMarkers(rounds) {
  const markers = [];
  for (let i = 1; i < rounds.length; i += 1) {
    const before = rounds[i - 1];
    const now = rounds[i];
    if (before.phase !== now.phase || before.step !== now.step) {
      const label = now.phase === "canary" ? `step ${now.step + 1} · ${fmt.num(now.weight)}%` : now.phase;
      markers.push({ time: now.at, label, color: tones.muted });
    }
  }
  return markers;
}

function gateSpec(gate, rounds) {
  const points = [];
  const lower = [];
  const upper = [];
  const bound = [];
  const boundLower = [];
  const boundUpper = [];
  let relative = false;
  let lastAt = null;
  for (const round of rounds) {
    const point = round.gates.find((g) => g.gate === gate);
    if (!point) continue;
    lastAt = round.at;
    if (point.estimate !== null && point.estimate !== undefined) points.push([round.at, point.estimate]);
    if (point.interval) {
      lower.push([round.at, point.interval[0]]);
      upper.push([round.at, point.interval[1]]);
    }
    if (point.bound !== null && point.bound !== undefined) bound.push([round.at, point.bound]);
    if (point.bound_interval) {
      relative = true;
      boundLower.push([round.at, point.bound_interval[0]]);
      boundUpper.push([round.at, point.bound_interval[1]]);
    }
  }
  const sample = rounds.flatMap((r) => r.gates).find((g) => g.gate === gate) ?? { metric: "" };
  const yFormat = isShare(sample) ? (v) => fmt.pct(v, 1) : (v) => fmt.num(v, 3);
  const values = new Set(bound.map(([, v]) => v));
  // A fixed bound is a horizontal line; one that rests on the primary moves, so it is
  // drawn as a dashed series with its own interval.
  const moving = relative || values.size > 1;
  const spec = {
    series: [{ name: "estimate", points, color: palette[0] }],
    bands: lower.length ? [{ name: "always-valid interval", lower, upper, color: palette[0] }] : [],
    thresholds: !moving && bound.length ? [{ name: `bound ${yFormat(bound[bound.length - 1][1])}`, value: bound[bound.length - 1][1], color: tones.bad }] : [],
    markers: stepMarkers(rounds),
    yFormat,
    height: 220,
  };
  if (moving) {
    spec.series.push({ name: "bound", points: bound, color: tones.bad, dashed: true });
    if (boundLower.length) spec.bands.push({ name: "bound interval", lower: boundLower, upper: boundUpper, color: tones.bad });
  }
  return { spec, points: points.length, bounds: moving ? bound.length : 0, lastAt };
}

// The time axis spans the rollout (start to now, or to its end) rather than ECharts' own
// guess, which stretches a single round over days. The core's timeSeries has no x range
// option, hence this merge on its instance.
function fixTimeAxis(chart, span) {
  if (!span || !chart?.instance) return;
  chart.instance.setOption({ xAxis: { min: span[0], max: span[1] } });
}

export class GateView {
  constructor(gate) {
    this.gate = gate;
    this.chart = null;
    this.badge = h("span");
    this.figures = h("div");
    this.reason = h("p", { class: "muted gate-reason" });
    this.chartEl = h("div", { class: "chart", dataset: { gate }, role: "img", "aria-label": `${gate} over time` });
    this.el = h(
      "article",
      { class: "gate", dataset: { gate } },
      h("header", { class: "gate-head" }, h("h3", { class: "mono" }, gate), this.badge),
      this.figures,
      this.reason,
      this.chartEl,
    );
  }

  update(latest, rounds, span) {
    replace(this.badge, verdictBadge(latest?.verdict));
    this.el.dataset.verdict = latest?.verdict ?? "";
    replace(this.figures, latest ? gateFigures(latest) : null);
    this.reason.textContent = latest?.reason ?? "";
    const { spec, points, bounds, lastAt } = gateSpec(this.gate, rounds);
    if (!points) {
      this.chart?.dispose();
      this.chart = null;
      for (const key of ["points", "series", "estimates", "bounds", "lastAt"]) delete this.chartEl.dataset[key];
      const n = latest?.n ?? 0;
      const needed = latest?.min_samples ?? 0;
      if (!rounds.length) showState(this.chartEl, "empty", "No analysis round kept yet.");
      else showState(this.chartEl, "insufficient", `Not enough data (${fmt.int(n)} of ${fmt.int(needed)})`);
      return;
    }
    if (this.chart) this.chart.update(spec);
    else this.chart = timeSeries(this.chartEl, spec);
    fixTimeAxis(this.chart, span);
    // data-points counts every line's points; these say which (tests compare with the API).
    this.chartEl.dataset.estimates = String(points);
    this.chartEl.dataset.bounds = String(bounds);
    this.chartEl.dataset.lastAt = lastAt;
  }

  dispose() {
    this.chart?.dispose();
  }
}
