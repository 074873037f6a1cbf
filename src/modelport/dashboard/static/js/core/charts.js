// Charts over Apache ECharts (vendored, global `echarts`). Each wrapper draws into its own
// host element inside the container, updates in place with animation off (no flicker, no
// jump) and writes data-points / data-series on the container so tests can count.

/* global echarts */

// Okabe & Ito, "Color Universal Design": distinguishable with every common colour-vision
// deficiency.
export const palette = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"];
export const tones = { ok: "#009E73", warn: "#E69F00", bad: "#D55E00", info: "#0072B2", muted: "#8a8f98" };
// Sequential, luminance-monotone (readable in grey and with colour-vision deficiencies).
const SEQUENTIAL = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

// ECharts loads on its own (an async script): charts are drawn once it is there.
export const chartsLoaded = new Promise((resolve, reject) => {
  if (window.echarts) {
    resolve();
    return;
  }
  const script = document.getElementById("echarts-lib");
  if (!script) {
    reject(new Error("the chart library is missing from the page"));
    return;
  }
  script.addEventListener("load", () => resolve(), { once: true });
  script.addEventListener("error", () => reject(new Error("the chart library failed to load")), { once: true });
});

const escape = (value) => echarts.format.encodeHTML(String(value ?? ""));

function ms(t) {
  return typeof t === "number" ? t : new Date(t).getTime();
}

function dark() {
  return document.documentElement.dataset.theme === "dark";
}

function textColor() {
  return dark() ? "#c9d1d9" : "#3b4252";
}

function gridColor() {
  return dark() ? "#30363d" : "#e5e7eb";
}

const live = new Set();
window.addEventListener("modelport:theme", () => {
  for (const chart of live) chart.remount();
});

class Chart {
  constructor(el, build, spec) {
    this.el = el;
    this.build = build;
    this.spec = spec;
    this.instance = null;
    this.host = null;
    live.add(this);
    this.update(spec);
  }

  mount() {
    this.instance?.dispose();
    this.host = document.createElement("div");
    this.host.className = "chart-host";
    this.el.replaceChildren(this.host);
    this.instance = echarts.init(this.host, dark() ? "dark" : null, { renderer: "canvas" });
    this.observer?.disconnect();
    this.observer = new ResizeObserver(() => this.instance?.resize());
    this.observer.observe(this.host);
    this.instance.on("click", (event) => this.onClick?.(event));
  }

  remount() {
    if (!this.el.isConnected) return;
    this.mount();
    this.draw(true);
  }

  update(spec) {
    this.spec = spec;
    if (!this.host || !this.el.contains(this.host)) this.mount();
    this.draw(false);
    return this;
  }

  draw(fresh) {
    const { option, points, series, extra } = this.build(this.spec, this);
    const base = {
      animation: false,
      backgroundColor: "transparent",
      color: palette,
      textStyle: { color: textColor(), fontFamily: "inherit" },
    };
    this.instance.setOption({ ...base, ...option }, fresh ? { notMerge: true } : { replaceMerge: ["series", "markLine"], lazyUpdate: true });
    this.el.dataset.points = String(points);
    this.el.dataset.series = String(series);
    for (const [key, value] of Object.entries(extra ?? {})) this.el.dataset[key] = value;
  }

  dispose() {
    live.delete(this);
    this.observer?.disconnect();
    this.instance?.dispose();
    this.instance = null;
  }
}

function axisCommon() {
  return {
    axisLine: { lineStyle: { color: gridColor() } },
    splitLine: { lineStyle: { color: gridColor() } },
    axisLabel: { color: textColor() },
  };
}

function timeSeriesOption(spec) {
  const series = [];
  let points = 0;
  (spec.series ?? []).forEach((s, i) => {
    const data = (s.points ?? []).map(([t, v]) => [ms(t), v]);
    points += data.length;
    series.push({
      name: s.name,
      type: "line",
      data,
      step: s.step ? "end" : false,
      showSymbol: data.length < 60,
      symbolSize: 4,
      connectNulls: false,
      lineStyle: { width: 1.8, type: s.dashed ? "dashed" : "solid", color: s.color ?? palette[i % palette.length] },
      itemStyle: { color: s.color ?? palette[i % palette.length] },
      areaStyle: s.area ? { opacity: 0.12 } : undefined,
      z: 3,
    });
  });
  (spec.bands ?? []).forEach((band, i) => {
    const lower = (band.lower ?? []).map(([t, v]) => [ms(t), v]);
    const upper = new Map((band.upper ?? []).map(([t, v]) => [ms(t), v]));
    const color = band.color ?? palette[(i + 1) % palette.length];
    const stack = `band-${i}`;
    series.push({
      name: `${band.name} (lower)`,
      type: "line",
      data: lower,
      stack,
      symbol: "none",
      lineStyle: { opacity: 0 },
      tooltip: { show: false },
      silent: true,
      z: 1,
    });
    series.push({
      name: band.name,
      type: "line",
      data: lower.map(([t, v]) => [t, upper.has(t) && v !== null && upper.get(t) !== null ? upper.get(t) - v : null]),
      stack,
      symbol: "none",
      lineStyle: { opacity: 0 },
      itemStyle: { color }, // the legend's icon takes the band's colour
      areaStyle: { color, opacity: 0.18 },
      tooltip: { show: false },
      silent: true,
      z: 1,
    });
  });
  const markLines = [
    ...(spec.thresholds ?? []).map((t) => ({
      name: t.name,
      yAxis: t.value,
      lineStyle: { color: t.color ?? tones.bad, type: "dashed", width: 1.5 },
      label: { formatter: t.name, position: "insideEndTop", color: t.color ?? tones.bad },
    })),
    ...(spec.markers ?? []).map((m) => ({
      name: m.label,
      xAxis: ms(m.time),
      lineStyle: { color: m.color ?? tones.warn, type: "solid", width: 1.5 },
      label: { formatter: m.label, position: "insideEndTop", color: m.color ?? tones.warn },
    })),
  ];
  series.push({
    name: "__marks",
    type: "line",
    data: [],
    silent: true,
    markLine: { symbol: "none", silent: true, data: markLines, animation: false },
  });
  const yFormat = spec.yFormat ?? ((v) => String(Number(v.toPrecision(4))));
  const named = (spec.series ?? []).length + (spec.bands ?? []).length;
  const option = {
    grid: { left: 56, right: 20, top: named > 1 ? 30 : 14, bottom: 26, containLabel: false },
    legend: named > 1 ? { top: 0, type: "scroll", textStyle: { color: textColor() }, data: [...(spec.series ?? []).map((s) => s.name), ...(spec.bands ?? []).map((b) => b.name)] } : { show: false },
    tooltip: {
      trigger: "axis",
      valueFormatter: (v) => (v === null || v === undefined ? "—" : yFormat(v)),
    },
    xAxis: { type: "time", ...axisCommon(), splitLine: { show: false }, axisLabel: { color: textColor(), hideOverlap: true } },
    yAxis: {
      type: "value",
      name: spec.yName ?? "",
      nameTextStyle: { color: textColor(), align: "left" },
      min: spec.yMin,
      max: spec.yMax,
      scale: spec.yMin === undefined,
      ...axisCommon(),
      axisLabel: { color: textColor(), formatter: (v) => yFormat(v) },
    },
    series,
  };
  return { option, points, series: (spec.series ?? []).length };
}

export function timeSeries(el, spec) {
  return new Chart(el, timeSeriesOption, spec);
}

export function sparkline(el, points) {
  return new Chart(
    el,
    (data) => {
      const line = (data ?? []).map(([t, v]) => [ms(t), v]);
      const color = dark() ? palette[5] : palette[0];

      return {
        option: {
          grid: { left: 1, right: 1, top: 3, bottom: 3 },
          tooltip: { trigger: "axis", confine: true, valueFormatter: (v) => (v === null || v === undefined ? "—" : String(Number(Number(v).toPrecision(3)))) },
          xAxis: { type: "time", show: false },
          yAxis: { type: "value", show: false, scale: true },
          series: [
            {
              type: "line",
              data: line,
              showSymbol: false,
              itemStyle: { color },
              lineStyle: { width: 1.5, color },
              areaStyle: { color, opacity: 0.12 },
            },
          ],
        },
        points: line.length,
        series: 1,
      };
    },
    points,
  );
}

function heatmapOption(spec, chart) {
  const rows = spec.rows ?? [];
  const times = (spec.times ?? []).map(ms);
  const cells = spec.cells ?? [];
  const drifted = new Set();
  const outlined = [];
  let max = spec.maxValue ?? 0;
  const data = cells.map((cell) => {
    const [x, y, value, isDrifted] = cell;
    if (isDrifted) {
      drifted.add(rows[y]);
      outlined.push([x, y, value]);
    }
    if (spec.maxValue === undefined && value !== null && value > max) max = value;
    return [x, y, value];
  });
  const labels = times.map((t) => {
    const d = new Date(t);
    const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
    const hh = `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
    return span > 36 * 3600 * 1000 ? `${d.getMonth() + 1}/${d.getDate()} ${hh}` : hh;
  });
  chart.onClick = (event) => {
    if (!spec.onSelect || !Array.isArray(event.value)) return;
    spec.onSelect(rows[event.value[1]], event.value[0]);
  };
  const outline = times.length <= 96;
  // One readable line per feature: the chart grows with the number of features.
  chart.el.style.height = `${Math.max(160, rows.length * 16 + 56)}px`;
  const threshold = (row) => (typeof spec.threshold === "object" && spec.threshold !== null ? spec.threshold[row] : spec.threshold);
  const option = {
    grid: { left: 8, right: 72, top: 8, bottom: 28, containLabel: true },
    tooltip: {
      confine: true,
      formatter: (p) => {
        const [x, y] = p.value;
        const cell = cells.find((c) => c[0] === x && c[1] === y) ?? [];
        const raw = cell[4] ?? p.value[2];
        const limit = cell[5] ?? threshold(rows[y]);
        return [
          `<b>${escape(rows[y])}</b> · ${escape(new Date(times[x]).toLocaleString())}`,
          `${escape(spec.valueName ?? "value")}: ${escape(raw === null || raw === undefined ? "—" : Number(raw).toPrecision(4))}`,
          limit !== undefined && limit !== null ? `threshold: ${escape(Number(limit).toPrecision(4))}` : "",
          cell[3] ? "<b>drifted</b>" : "",
        ]
          .filter(Boolean)
          .join("<br>");
      },
    },
    xAxis: { type: "category", data: labels, ...axisCommon(), splitArea: { show: false } },
    yAxis: {
      type: "category",
      data: rows,
      inverse: true,
      ...axisCommon(),
      axisLabel: {
        width: 140,
        interval: 0,
        overflow: "truncate",
        // Drifted features are named in the warning colour, with a mark.
        formatter: (name) => (drifted.has(name) ? `{drifted|▲ ${name}}` : name),
        color: textColor(),
        rich: { drifted: { color: tones.bad, fontWeight: "bold" } },
      },
    },
    visualMap: [{
      min: 0,
      max: max || 1,
      calculable: false,
      orient: "vertical",
      right: 0,
      top: "middle",
      itemHeight: 120,
      seriesIndex: 0,
      dimension: 2,
      text: [spec.maxLabel ?? (max || 1).toPrecision(2), "0"],
      textStyle: { color: textColor() },
      inRange: { color: SEQUENTIAL },
    },
    {
      show: false,
      seriesIndex: 1,
      dimension: 2,
      min: 0,
      max: 1,
      inRange: { color: [outline ? "rgba(0,0,0,0)" : tones.bad] },
      outOfRange: { color: [outline ? "rgba(0,0,0,0)" : tones.bad] },
    }],
    series: [
      { name: spec.valueName ?? "value", type: "heatmap", data, progressive: 0, emphasis: { itemStyle: { borderColor: textColor(), borderWidth: 1 } } },
      {
        // Drifted cells: wide cells get an outline; narrow ones (long ranges) are too thin
        // to outline, so they are filled in the warning colour instead.
        name: "drifted",
        type: "heatmap",
        data: outlined,
        progressive: 0,
        silent: true,
        itemStyle: outline ? { borderColor: tones.bad, borderWidth: 2 } : { borderWidth: 0, opacity: 0.9 },
        tooltip: { show: false },
      },
    ],
  };
  return { option, points: data.length, series: 1, extra: { driftedRows: [...drifted].join(",") } };
}

export function heatmap(el, spec) {
  return new Chart(el, heatmapOption, spec);
}

function barsOption(spec) {
  const categories = spec.categories ?? spec.labels ?? [];
  const yFormat = spec.yFormat ?? ((v) => String(Number(Number(v).toPrecision(3))));
  let points = 0;
  const series = (spec.series ?? []).map((s, i) => {
    points += (s.values ?? []).length;
    return {
      name: s.name,
      type: "bar",
      data: s.values ?? [],
      stack: spec.stacked ? "total" : undefined,
      itemStyle: { color: s.color ?? palette[i % palette.length] },
      barMaxWidth: 28,
    };
  });
  const category = { type: "category", data: categories, ...axisCommon(), axisLabel: { color: textColor(), hideOverlap: true } };
  const value = { type: "value", ...axisCommon(), axisLabel: { color: textColor(), formatter: (v) => yFormat(v) } };
  const option = {
    grid: { left: 8, right: 16, top: series.length > 1 ? 30 : 12, bottom: 8, containLabel: true },
    legend: series.length > 1 ? { top: 0, textStyle: { color: textColor() } } : { show: false },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v) => yFormat(v) },
    xAxis: spec.horizontal ? value : category,
    yAxis: spec.horizontal ? { ...category, inverse: true } : value,
    series,
  };
  return { option, points, series: series.length };
}

export function bars(el, spec) {
  return new Chart(el, barsOption, spec);
}

export function histogram(el, spec) {
  return new Chart(el, barsOption, { ...spec, categories: spec.labels, yFormat: spec.yFormat ?? ((v) => `${(v * 100).toFixed(1)}%`) });
}

export function stackedArea(el, spec) {
  return new Chart(
    el,
    (s) => {
      const built = timeSeriesOption({ yMin: 0, ...s, series: s.series ?? [] });
      for (const series of built.option.series) {
        if (series.name === "__marks") continue;
        series.stack = "total";
        series.areaStyle = { opacity: 0.55 };
        series.showSymbol = false;
      }
      return built;
    },
    spec,
  );
}
