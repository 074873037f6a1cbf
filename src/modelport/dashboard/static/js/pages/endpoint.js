// The endpoint page: service, drift, data quality, predictions and performance of one
// endpoint over the chosen time range, refreshed in place.
//
// Per refresh it asks the API for: the endpoint and its rollout, the service series (with
// the predictions' distribution), ONE compact drift history (the deciding statistic per
// feature and window, for the heat map), the newest live window (histograms, current
// quality and performance), the selected feature's own series, the performance series,
// detector events and the alert rules (an adaptive rule's band is drawn on the feature's
// chart). Nothing is fetched per feature beyond the selected one, so a month of hourly
// windows for 50 features stays one small answer.
import { api } from "../core/api.js";
import { ready } from "../core/boot.js";
import { chartsLoaded, heatmap, histogram, palette, stackedArea, timeSeries, tones } from "../core/charts.js";
import { badge, fmt, h, kv, replace, showState, table } from "../core/dom.js";
import { live } from "../core/live.js";
import { rangePicker } from "../core/range.js";

const $ = (id) => document.getElementById(id);
// Heat map colour: the statistic as a multiple of its threshold, capped here.
const SEVERITY_CAP = 3;
// A heat map wider than this many columns groups consecutive windows into one column
// (its worst window, chosen by the server): a month of hourly windows stays quick to
// fetch, draw and read.
const MAX_COLUMNS = 96;
// Statistics whose threshold bounds a p-value (drift when below): coloured by verdict.
const P_VALUE_TESTS = new Set(["ks", "chisquare"]);
const STAT_NAMES = {
  psi: "PSI",
  cramers_v: "Cramér's V",
  ks: "KS",
  wasserstein: "Wasserstein",
  jensenshannon: "Jensen–Shannon",
  chisquare: "χ²",
  total_variation: "Total variation",
};
const QUALITY = [
  ["missing_rate", "missing"],
  ["out_of_range_rate", "out of range"],
  ["unseen_rate", "unseen categories"],
];
const PERFORMANCE = {
  classification: [["accuracy", "accuracy"], ["f1", "F1"], ["macro_f1", "macro F1"]],
  regression: [["mae", "MAE"], ["rmse", "RMSE"]],
};
const MAX_MARKERS = 40;
// Charts with buckets this long (seconds) refresh at most every SLOW_REFRESH_MS.
const SLOW_STEP_S = 900;
const SLOW_REFRESH_MS = 60_000;
// The statistics of the selected feature the page draws (besides a deciding one).
const DRAWN = ["psi", "cramers_v", ...QUALITY.map(([stat]) => stat)];

const statName = (name) => STAT_NAMES[name] ?? name ?? "statistic";
const path = (name, tail = "") => `/v1/endpoints/${encodeURIComponent(name)}${tail}`;

// A point between two gaps draws nothing in a line chart: such charts show their points
// (the core's timeSeries shows symbols only for short series).
function isolated(points) {
  return points.some(([, v], i) => v !== null && v !== undefined && (points[i - 1]?.[1] ?? null) === null && (points[i + 1]?.[1] ?? null) === null);
}

function withSymbols(chart, spec) {
  const sparse = (spec.series ?? []).map((s) => isolated(s.points ?? []));
  if (sparse.some(Boolean)) chart.instance?.setOption({ series: sparse.map((on) => (on ? { showSymbol: true, symbolSize: 6 } : {})) });
  return chart;
}

// -- charts that live across refreshes (updated in place, replaced by a state box when
//    there is nothing to draw) --------------------------------------------------------------
const charts = new Map();

function draw(id, make, spec) {
  const el = $(id);
  const chart = charts.get(id);
  if (chart && chart.host && el.contains(chart.host)) return withSymbols(chart.update(spec), spec);
  chart?.dispose();
  el.style.height = "";
  const made = make(el, spec);
  charts.set(id, made);
  return withSymbols(made, spec);
}

function blank(id, kind, message) {
  charts.get(id)?.dispose();
  charts.delete(id);
  const el = $(id);
  el.style.height = "";
  for (const key of ["points", "series", "driftedRows"]) delete el.dataset[key];
  showState(el, kind, message);
}

function figure(label, value, title) {
  return h("div", { class: "figure", title }, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
}

// "1h" -> "1h windows"; "1000rows" -> "windows of 1000 rows".
const windowName = (size) => (/rows$/.test(size) ? `windows of ${size.replace(/rows$/, "")} rows` : `${size} windows`);

// Label delays are often below a second.
const seconds = (value) => (value < 1 ? fmt.ms(value * 1000) : fmt.duration(value));

// "not enough data (n=12, need 100)" -> [12, 100]
function shortfall(message) {
  const found = /n=(\d+), need (\d+)/.exec(message ?? "");
  return found ? [Number(found[1]), Number(found[2])] : null;
}

function insufficientText(entries) {
  const short = entries.map((e) => shortfall(e.message)).filter(Boolean);
  if (!short.length) return "Not enough data in the window for a verdict yet.";
  const [n, need] = short.reduce((a, b) => (b[1] - b[0] > a[1] - a[0] ? b : a));
  return `Not enough data (${fmt.int(n)} of ${fmt.int(need)} rows) in the newest window for a drift verdict.`;
}

// Heat map cells [column, row, severity, drifted, value, threshold] of the deciding
// statistic. The server groups windows into at most MAX_COLUMNS columns (``per`` windows
// each, shown by the most severe), so a month of hourly windows arrives small.
function heatCells(drift) {
  const cells = [];
  drift.series.forEach((series, row) => {
    series.values.forEach((value, column) => {
      if (value === null) return;
      const threshold = series.thresholds[column];
      const statistic = series.statistics?.[column] ?? series.statistic;
      const drifted = series.drifted[column] === true;
      let severity;
      if (P_VALUE_TESTS.has(statistic) || !threshold) severity = drifted ? SEVERITY_CAP : 0.5;
      else severity = Math.min(value / threshold, SEVERITY_CAP);
      cells.push([column, row, severity, drifted, value, threshold]);
    });
  });
  return { times: drift.times, cells, per: drift.per ?? 1 };
}

// Whether a series' newest window drifted (grouped columns carry it apart).
const driftedNow = (series) => (series.drifted_now ?? series.drifted[series.drifted.length - 1]) === true;

// -- the page ---------------------------------------------------------------------------
ready(async (ctx) => {
  const name = ctx.params.endpoint;
  const state = { feature: null, version: "", role: "", versionInfo: new Map(), versions: "", rules: [] };
  let poller = null;
  let known = null; // the endpoint as read at start, for the first refresh
  const picker = rangePicker($("ep-range"), () => poller?.now());

  replace(
    $("ep-links"),
    h("a", { href: `/dashboard/endpoints/${encodeURIComponent(name)}/rollout` }, `Rollout of ${name}`),
    h("a", { href: `/dashboard/endpoints/${encodeURIComponent(name)}/predictions` }, `Predictions of ${name}`),
  );
  for (const id of ["chart-rate", "chart-errors", "chart-latency", "drift-heatmap", "chart-feature", "chart-histogram", "chart-quality", "chart-predictions", "chart-performance", "chart-labelled"]) {
    showState($(id), "loading");
  }
  const query = new URLSearchParams(window.location.search);
  state.version = query.get("version") ?? "";
  state.role = query.get("role") ?? "";
  state.feature = query.get("feature");
  $("ep-role").value = state.role;

  const remember = (key, value) => {
    const next = new URLSearchParams(window.location.search);
    if (value) next.set(key, value);
    else next.delete(key);
    history.replaceState(null, "", `${window.location.pathname}?${next}`);
  };
  $("ep-version").addEventListener("change", (event) => {
    state.version = event.target.value;
    remember("version", state.version);
    poller?.now();
  });
  $("ep-role").addEventListener("change", (event) => {
    state.role = event.target.value;
    remember("role", state.role);
    poller?.now();
  });
  // What the newest refresh drew, so choosing a feature asks for its series alone.
  let last = null;
  // Only the statistics the page draws: the deciding one (PSI or Cramér's V, or another
  // where they carried no verdict) and the quality rates.
  const featureSeries = (feature, versioned, deciding = null) =>
    api(path(name, "/monitoring/history"), {
      query: { ...versioned, format: "columns", feature, stat: [...new Set([...DRAWN, ...(deciding ? [deciding] : [])])] },
    });
  const decidingOf = (drift, feature) => drift.series.find((s) => s.feature === feature)?.statistic ?? null;
  // The feature's series, asked again when a statistic other than the usual decided.
  const complete = async (detail, feature, drift, versioned) => {
    const deciding = decidingOf(drift, feature);
    if (!deciding || detail.series.some((s) => s.statistic === deciding)) return detail;
    return featureSeries(feature, versioned, deciding);
  };
  const selectFeature = async (feature) => {
    if (!feature || feature === state.feature) return;
    state.feature = feature;
    $("ep-feature").value = feature;
    remember("feature", feature);
    if (!last) return;
    const shown = last;
    const detail = await featureSeries(feature, shown.versioned, decidingOf(shown.drift, feature));
    detail.band = await adaptiveBand(feature, shown.drift, shown.versioned);
    if (state.feature !== feature || last !== shown) return; // a newer choice or refresh won
    renderFeature(detail, shown.drift, shown.newest);
    renderQuality(detail, shown.newest);
  };
  $("ep-feature").addEventListener("change", (event) => selectFeature(event.target.value));

  // An alert rule with an adaptive threshold on the feature's deciding statistic: the band
  // it learned, as it stood at each evaluation in the range (null without such a rule).
  async function adaptiveBand(feature, drift, span) {
    const statistic = drift.series.find((s) => s.feature === feature)?.statistic;
    const rule = (state.rules ?? []).find((r) => r.metric === `drift.${statistic}` && (r.feature === feature || r.feature === "*"));
    if (!rule) return null;
    const found = await api(`/v1/alerts/${encodeURIComponent(rule.name)}`).catch(() => null);
    const since = Date.parse(span.since);
    const until = Date.parse(span.until);
    const mine = (found?.points ?? [])
      .filter((p) => p.key.includes(`feature="${feature}"`) && p.upper !== null)
      .filter((p) => Date.parse(p.at) >= since && Date.parse(p.at) <= until)
      .sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    if (!mine.length) return null;
    return {
      name: `adaptive band (alert ${rule.name})`,
      lower: mine.map((p) => [p.at, p.lower ?? 0]),
      upper: mine.map((p) => [p.at, p.upper]),
    };
  }

  async function versionInfo(model, version) {
    const key = `${model}:${version}`;
    if (!state.versionInfo.has(key)) {
      state.versionInfo.set(key, await api(`/v1/models/${encodeURIComponent(model)}/versions/${version}`).catch(() => null));
    }
    return state.versionInfo.get(key);
  }

  async function refresh() {
    const range = picker.current();
    const span = { since: range.since.toISOString(), until: range.until.toISOString() };
    // The first refresh reuses the endpoint read when the page started.
    const endpoint = known ?? (await api(path(name)));
    known = null;
    const monitored = state.version ? Number(state.version) : endpoint.version;
    const versioned = { ...span, version: monitored };
    const info = await versionInfo(endpoint.model, monitored);
    // The selected feature's series is asked for with everything else (first visit: the
    // model's first input feature), not after the heat map's answer.
    state.feature ??= info?.input_schema?.features?.[0]?.name ?? null;
    const asked = state.feature;
    const [rollout, service, drift, windows, scores, events, early, alerts] = await Promise.all([
      api(path(name, "/rollout")).catch(() => null),
      api(path(name, "/service"), {
        query: { ...span, step: `${range.stepS}s`, version: state.version || null, role: state.role || null, predictions: 1 },
      }),
      api(path(name, "/monitoring/history"), { query: { ...versioned, decision: 1, columns: MAX_COLUMNS } }),
      api(path(name, "/monitoring/live"), { query: { version: monitored, empty: 1 } }),
      api(path(name, "/monitoring/history"), { query: { ...versioned, format: "columns", feature: "__performance__" } }),
      api(path(name, "/monitoring/events"), { query: { since: span.since } }),
      asked ? featureSeries(asked, versioned) : null,
      api("/v1/alerts").catch(() => null),
    ]);
    await chartsLoaded; // the page asked before the chart library was parsed
    state.rules = (alerts?.rules ?? []).filter((rule) => rule.endpoint === name && rule.threshold?.kind === "adaptive");
    const newest = windows.windows.find((w) => w.version === monitored) ?? null;
    const until = range.until.getTime();
    const shownEvents = events.events.filter((e) => e.version === monitored && Date.parse(e.detected_at) <= until);
    renderServing(endpoint, rollout);
    renderVersions(endpoint);
    renderService(service, range);
    const features = renderDrift(drift, newest, info, endpoint.model, monitored);
    let detail = null;
    if (state.feature && features.includes(state.feature)) {
      detail = state.feature === asked ? early : await featureSeries(state.feature, versioned, decidingOf(drift, state.feature));
      detail = await complete(detail, state.feature, drift, versioned);
    }
    last = { drift, newest, versioned };
    if (detail) detail.band = await adaptiveBand(state.feature, drift, span);
    renderFeature(detail, drift, newest);
    renderQuality(detail, newest);
    renderPredictions(service, info);
    renderPerformance(scores, newest, shownEvents, info);
  }

  // -- serving ----------------------------------------------------------------------------
  function renderServing(endpoint, rollout) {
    const routing = endpoint.serving ?? {};
    const health = endpoint.ready ? badge("ready", "ok") : badge("not ready", "bad");
    replace($("ep-health"), health);
    const split = describeRouting(routing, endpoint.version);
    const running = rollout?.rollout;
    const pairs = [
      ["Model", h("a", { href: `/dashboard/models/${encodeURIComponent(endpoint.model)}` }, endpoint.model)],
      ["Primary", `v${endpoint.version}`],
      ["Traffic", split],
      running ? ["Rollout", h("a", { href: `/dashboard/endpoints/${encodeURIComponent(name)}/rollout` }, rolloutText(running))] : null,
      ["Revision", `${endpoint.revision} · updated ${fmt.ago(endpoint.updated_at)}`],
    ];
    const body = [kv(pairs)];
    const el = $("ep-serving");
    replace(el, ...body);
    if (!endpoint.ready) {
      const box = h("div");
      el.appendChild(box);
      showState(box, "broken", endpoint.error ? `The model failed to load: ${endpoint.error}` : "The endpoint is not serving yet.");
    }
  }

  function rolloutText(rollout) {
    const parts = [`${rollout.strategy} of v${rollout.candidate}`];
    if (rollout.phase && rollout.phase !== rollout.strategy) parts.push(rollout.phase);
    parts.push(rollout.status);
    if (rollout.steps?.length) parts.push(`step ${rollout.step + 1} of ${rollout.steps.length}`);
    return parts.join(" · ");
  }

  function describeRouting(routing, primary) {
    const pct = (w) => `${Number(w) > 1 ? Number(w) : Number(w) * 100}%`;
    switch (routing.strategy) {
      case "canary": {
        const share = Number(routing.weight) > 1 ? Number(routing.weight) : Number(routing.weight) * 100;
        return `canary: v${routing.canary} answers ${fmt.num(share)}%, v${routing.primary} ${fmt.num(100 - share)}%`;
      }
      case "shadow":
        return `v${routing.primary} answers 100%; v${routing.shadow} shadows ${pct(routing.sample ?? 1)} of requests`;
      case "blue-green":
        return `blue-green: v${routing.live} live (100%), v${routing.standby} standby`;
      default:
        return `v${routing.primary ?? primary} answers 100%`;
    }
  }

  function renderVersions(endpoint) {
    const routing = endpoint.serving ?? {};
    const roles = new Map([[endpoint.version, "primary"]]);
    for (const role of ["primary", "canary", "shadow", "live", "standby"]) {
      if (Number.isInteger(routing[role]) && !roles.has(routing[role])) roles.set(routing[role], role);
    }
    if (state.version && !roles.has(Number(state.version))) roles.set(Number(state.version), "not served");
    const key = JSON.stringify([...roles]);
    if (key === state.versions) return;
    state.versions = key;
    const select = $("ep-version");
    replace(
      select,
      h("option", { value: "" }, `All versions (drift: primary v${endpoint.version})`),
      [...roles].sort((a, b) => a[0] - b[0]).map(([v, role]) => h("option", { value: String(v) }, `v${v} (${role})`)),
    );
    select.value = state.version;
  }

  // -- service ----------------------------------------------------------------------------
  function renderService(service, range) {
    const totals = service.totals;
    replace(
      $("service-figures"),
      figure("requests", fmt.int(totals.requests)),
      figure("request rate", fmt.rate(totals.rate)),
      figure("error rate", fmt.pct(totals.error_rate, 2)),
      figure("latency p50", fmt.ms(totals.p50_ms)),
      figure("latency p99", fmt.ms(totals.p99_ms)),
      figure("bucket", fmt.duration(service.step_s), `one point per ${fmt.duration(service.step_s)} of ${range.label}`),
    );
    if (!totals.requests) {
      const message = `no request was logged in this range (${range.label}).`;
      for (const id of ["chart-rate", "chart-errors", "chart-latency"]) blank(id, "empty", message);
      return;
    }
    const at = (key) => service.buckets.map((b) => [b.start, b[key]]);
    draw("chart-rate", timeSeries, { series: [{ name: "requests/s", points: at("rate"), area: true }], yFormat: fmt.rate, yMin: 0 });
    draw("chart-errors", timeSeries, {
      series: [{ name: "error rate", points: at("error_rate"), color: tones.bad }],
      yFormat: (v) => fmt.pct(v, 1),
      yMin: 0,
    });
    draw("chart-latency", timeSeries, {
      series: [
        { name: "p50", points: at("p50_ms"), color: palette[0] },
        { name: "p99", points: at("p99_ms"), color: palette[1] },
      ],
      yFormat: fmt.ms,
      yMin: 0,
    });
  }

  // -- drift ------------------------------------------------------------------------------
  function renderDrift(drift, latest, info, model, version) {
    const features = drift.series.map((s) => s.feature);
    renderFeatureSelect(features, latest);
    const label = `${model} v${version}`;
    if (!drift.times.length) {
      if (info && !info.has_profile && !latest) {
        blank("drift-heatmap", "broken", `No reference profile: ${label} was registered without reference data, so drift has nothing to compare with until its own first rows are profiled.`);
      } else if (latest && latest.features?.length && latest.features.every((f) => f.status === "not_enough_data")) {
        blank("drift-heatmap", "insufficient", insufficientText(latest.features));
      } else {
        blank("drift-heatmap", "empty", `no monitoring window of ${label} in this range.`);
      }
      replace($("drift-note"));
      return features;
    }
    const { times, cells, per } = heatCells(drift);
    if (!cells.length) {
      blank("drift-heatmap", "insufficient", insufficientText(latest?.features ?? []));
      replace($("drift-note"));
      return features;
    }
    draw("drift-heatmap", heatmap, {
      rows: features,
      times,
      cells,
      valueName: per > 1 ? `statistic ÷ threshold (worst of ${per} windows)` : "statistic ÷ threshold",
      maxValue: SEVERITY_CAP,
      maxLabel: `≥${SEVERITY_CAP}× threshold`,
      onSelect: (feature) => selectFeature(feature),
    });
    const newest = drift.series.filter(driftedNow).map((s) => s.feature);
    const stats = [...new Set(drift.series.map((s) => statName(s.statistic)))].join(" / ");
    const baseline = latest?.baseline && latest.baseline !== "reference" ? ` Baseline: ${latest.baseline}.` : "";
    const grain = per > 1 ? ` (a column holds ${per} windows, coloured by the worst)` : "";
    replace(
      $("drift-note"),
      `${label}, ${windowName(drift.window)}${grain}. Colour: the deciding statistic (${stats}) as a multiple of the threshold in force; outlined: drifted. Click a feature to see it below.${baseline} `,
      newest.length ? badge(`${newest.length} of ${features.length} drifted now: ${newest.join(", ")}`, "bad") : badge(`no drift in the newest window`, "ok"),
    );
    return features;
  }

  function renderFeatureSelect(features, latest) {
    const select = $("ep-feature");
    const key = features.join("\u0000");
    if (!features.includes(state.feature)) {
      // Default: the most severe feature of the newest window, else the first.
      const worst = latest?.features?.find((f) => features.includes(f.feature));
      state.feature = worst?.feature ?? features[0] ?? null;
    }
    if (select.dataset.features !== key) {
      select.dataset.features = key;
      replace(select, features.map((f) => h("option", { value: f }, f)));
    }
    select.value = state.feature ?? "";
    select.disabled = !features.length;
  }

  function renderFeature(detail, drift, latest) {
    const feature = state.feature;
    if (!feature || !detail) {
      const message = "choose a feature once its first window is stored.";
      blank("chart-feature", "empty", message);
      blank("chart-histogram", "empty", message);
      replace($("feature-note"));
      return;
    }
    const deciding = drift.series.find((s) => s.feature === feature)?.statistic;
    const series = detail.series.find((s) => s.statistic === deciding);
    $("feature-chart-title").textContent = `${feature}: ${statName(deciding)} over time`;
    const points = series ? series.values.map((v, i) => [detail.times[i], v]) : [];
    if (!points.some(([, v]) => v !== null)) {
      blank("chart-feature", "insufficient", insufficientText((latest?.features ?? []).filter((f) => f.feature === feature)));
    } else {
      const limits = series.thresholds.filter((t) => t !== null);
      const constant = limits.every((t) => t === limits[0]);
      const drifted = series.drifted.filter((d) => d === true).length;
      draw("chart-feature", timeSeries, {
        series: [
          { name: statName(deciding), points, color: palette[0] },
          ...(constant ? [] : [{ name: "threshold in force", points: series.thresholds.map((t, i) => [detail.times[i], t]), color: tones.bad, dashed: true, step: true }]),
        ],
        thresholds: constant && limits.length ? [{ name: `threshold ${fmt.num(limits[0])}`, value: limits[0] }] : [],
        bands: detail.band ? [{ ...detail.band, color: tones.warn }] : [],
        yMin: 0,
      });
      replace($("feature-note"), `${drifted} of ${series.values.filter((v) => v !== null).length} windows drifted`);
    }
    const entry = (latest?.features ?? []).find((f) => f.feature === feature);
    if (!entry?.histogram) {
      blank("chart-histogram", "empty", "no live window holds this feature.");
      return;
    }
    $("histogram-title").textContent = `${feature}: reference vs current window (${fmt.int(entry.n_current)} rows)`;
    draw("chart-histogram", histogram, histogramSpec(entry.histogram));
  }

  function histogramSpec(hist) {
    let labels;
    let optional; // buckets shown only when either side has rows in them
    if (hist.kind === "categorical") {
      labels = [...hist.categories, "unseen", "missing"];
      optional = new Set([labels.length - 2, labels.length - 1]);
    } else {
      const cuts = hist.cut_points;
      const n = (v) => fmt.num(v, 3);
      labels = [`< ${n(cuts[0])}`];
      for (let i = 1; i < cuts.length; i += 1) labels.push(`${n(cuts[i - 1])}–${n(cuts[i])}`);
      labels.push(`≥ ${n(cuts[cuts.length - 1])}`, "missing");
      optional = new Set([labels.length - 1]);
    }
    const reference = hist.reference_counts;
    const current = hist.current_counts;
    const keep = labels.map((_, i) => !optional.has(i) || reference[i] + current[i] > 0);
    const shares = (counts) => {
      const total = counts.reduce((a, b) => a + b, 0) || 1;
      return counts.map((c) => c / total).filter((_, i) => keep[i]);
    };
    return {
      labels: labels.filter((_, i) => keep[i]),
      series: [
        { name: "reference", values: shares(reference) },
        { name: "current window", values: shares(current) },
      ],
    };
  }

  // -- quality ----------------------------------------------------------------------------
  function renderQuality(detail, latest) {
    const feature = state.feature;
    $("quality-chart-title").textContent = feature ? `${feature}: rates over time` : "Rates over time";
    const lines = QUALITY.map(([stat, label], i) => {
      const series = detail?.series.find((s) => s.statistic === stat);
      return { name: label, points: series ? series.values.map((v, j) => [detail.times[j], v]) : [], color: palette[[0, 1, 3][i]] };
    }).filter((s) => s.points.length);
    if (!lines.length) blank("chart-quality", "empty", "no window of this feature in this range.");
    else draw("chart-quality", timeSeries, { series: lines, yFormat: (v) => fmt.pct(v, 1), yMin: 0 });

    const current = latest?.quality?.features ?? {};
    const rows = Object.entries(current).map(([name, q]) => ({ name, ...q }));
    const pick = (name) =>
      h("button", { type: "button", class: "ghost linkish", "aria-pressed": String(name === feature), on: { click: () => selectFeature(name) } }, name);
    replace(
      $("quality-table"),
      table(
        [
          { key: "name", label: "Feature", render: (r) => pick(r.name) },
          { key: "missing_rate", label: "Missing", numeric: true, render: (r) => fmt.pct(r.missing_rate, 2) },
          { key: "out_of_range_rate", label: "Out of range", numeric: true, render: (r) => fmt.pct(r.out_of_range_rate, 2) },
          { key: "unseen_rate", label: "Unseen", numeric: true, render: (r) => fmt.pct(r.unseen_rate, 2) },
          { key: "rows", label: "Rows", numeric: true, render: (r) => fmt.int(r.rows) },
        ],
        rows,
        { empty: "no live window.", caption: latest ? `Newest window (${fmt.time(latest.window_start)})` : null },
      ),
    );
  }

  // -- predictions ------------------------------------------------------------------------
  function renderPredictions(service, info) {
    const predictions = service.predictions;
    $("predictions-title").textContent = predictions?.kind === "regression" ? "Predictions: distribution over time" : "Predictions: class shares over time";
    if (!predictions?.kind || !predictions.rows.some((n) => n > 0)) {
      blank("chart-predictions", "empty", "no prediction was answered in this range.");
      return;
    }
    const starts = service.buckets.map((b) => b.start);
    if (predictions.kind === "classification") {
      const order = info?.output?.classes?.length ? [...info.output.classes.map(String), ...predictions.classes.filter((c) => !info.output.classes.map(String).includes(c))] : predictions.classes;
      draw("chart-predictions", stackedArea, {
        series: order
          .filter((c) => predictions.classes.includes(c))
          .map((label, i) => {
            const k = predictions.classes.indexOf(label);
            return { name: label, color: palette[i % palette.length], points: starts.map((t, b) => [t, predictions.rows[b] ? predictions.counts[b][k] / predictions.rows[b] : null]) };
          }),
        yFormat: (v) => fmt.pct(v, 0),
        yMax: 1,
      });
      return;
    }
    const at = (key) => starts.map((t, b) => [t, predictions[key][b]]);
    draw("chart-predictions", timeSeries, {
      series: [
        { name: "mean", points: at("mean"), color: palette[0] },
        { name: "median", points: at("p50"), color: palette[2], dashed: true },
      ],
      bands: [{ name: "10th–90th percentile", lower: at("p10"), upper: at("p90"), color: palette[5] }],
    });
  }

  // -- performance ------------------------------------------------------------------------
  function renderPerformance(scores, latest, events, info) {
    const kind = info?.output?.kind ?? "classification";
    const labelled = scores.series.find((s) => s.statistic === "labelled");
    const current = latest?.performance ?? {};
    const delay = current.label_delay_s;
    const metrics = (PERFORMANCE[kind] ?? PERFORMANCE.classification).filter(([stat]) => scores.series.some((s) => s.statistic === stat && s.values.some((v) => v !== null)));
    // F1 of the positive class where there is one, else the macro average.
    const shown = metrics.filter(([stat]) => !(stat === "macro_f1" && metrics.some(([s]) => s === "f1")));
    // The newest window whose labelled predictions give each metric a value.
    const newestOf = (stat) => {
      const series = scores.series.find((s) => s.statistic === stat);
      const index = series ? series.values.findLastIndex((v) => v !== null) : -1;
      return index < 0 ? [null, null] : [series.values[index], scores.times[index]];
    };
    const total = (labelled?.values ?? []).reduce((sum, v) => sum + (v ?? 0), 0);
    replace(
      $("performance-figures"),
      figure("labelled predictions", fmt.int(total), "in the windows of this range"),
      shown.map(([stat, label]) => {
        const [value, at] = newestOf(stat);
        return figure(`${label} (newest)`, fmt.num(value), at ? `window of ${fmt.time(at)}` : null);
      }),
      figure("label delay (mean)", delay ? seconds(delay.mean) : "—", delay ? `current window; max ${seconds(delay.max)}` : "no label in the current window"),
      figure("detector events", fmt.int(events.length), "concept-drift detections in this range"),
    );
    const anyLabels = labelled?.values.some((v) => v > 0);
    if (!anyLabels) {
      const message = "No labels yet: performance appears once labels arrive (POST /v1/feedback or modelport feedback).";
      blank("chart-performance", "empty", message);
      blank("chart-labelled", "empty", message);
      return;
    }
    const markers = events.slice(-MAX_MARKERS).map((e) => ({ time: e.detected_at, label: e.detector }));
    if (!shown.length) blank("chart-performance", "insufficient", "Not enough labels for a metric yet.");
    else {
      draw("chart-performance", timeSeries, {
        series: shown.map(([stat, label], i) => {
          const series = scores.series.find((s) => s.statistic === stat);
          return { name: label, points: series.values.map((v, j) => [scores.times[j], v]), color: palette[i] };
        }),
        markers,
        ...(kind === "classification" ? { yMin: 0, yMax: 1 } : { yMin: 0 }),
      });
    }
    draw("chart-labelled", timeSeries, {
      series: [{ name: "labelled", points: labelled.values.map((v, j) => [scores.times[j], v]), step: true, area: true, color: palette[2] }],
      yFormat: (v) => fmt.int(v),
      yMin: 0,
    });
  }

  // An unknown endpoint (or a refused token) is said once, in place of the page.
  known = await api(path(name));
  // Ranges drawn in buckets of 15 minutes or more change little in seconds: refreshed once
  // a minute, so a month's page open all day does not keep the server busy.
  const every = (base) => {
    const fixed = ctx.refreshMs ?? base;
    return picker.current().stepS >= SLOW_STEP_S ? Math.max(fixed, SLOW_REFRESH_MS) : fixed;
  };
  poller = await live(refresh, { intervalMs: every });
}, { early: true });
