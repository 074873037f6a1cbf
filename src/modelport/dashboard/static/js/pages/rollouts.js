// The rollouts pages. /dashboard/rollouts: every endpoint's rollout, live ones first.
// /dashboard/endpoints/{name}/rollout: one rollout's split, step, gates over time (from
// GET .../rollout/analyses), the candidate vs primary report and the audit trail, with
// promote / roll back / pause / resume for callers allowed to deploy.
import { ready } from "../core/boot.js";
import { api } from "../core/api.js";
import { badge, fmt, h, kv, replace, showState, table } from "../core/dom.js";
import { live } from "../core/live.js";
import { palette, timeSeries, tones } from "../core/charts.js";
import { actionButton, confirmAction, toast } from "../core/ui.js";

const STATUS_TONE = { active: "info", paused: "warn", promoted: "ok", "rolled-back": "bad", aborted: "bad" };
const VERDICT_TONE = { pass: "ok", fail: "bad", inconclusive: "warn", skipped: "muted" };
const ACTION_TONE = { start: "info", step: "info", promote: "ok", "release-blue": "ok", rollback: "bad", abort: "bad", pause: "warn", resume: "info", verdict: "muted" };
const LIVE = new Set(["active", "paused"]);
// Rounds kept in the page: the API keeps rounds sparser as a rollout ages, so this spans
// a whole rollout; the oldest fall off a very long one.
const MAX_ROUNDS = 2000;
const FIRST_ROUNDS = 1000;

const path = (name) => `/v1/endpoints/${encodeURIComponent(name)}/rollout`;
const pageOf = (name) => `/dashboard/endpoints/${encodeURIComponent(name)}/rollout`;

function statusBadge(status) {
  return badge(status, STATUS_TONE[status] ?? "muted");
}

function verdictBadge(verdict) {
  return badge(verdict ?? "no verdict", VERDICT_TONE[verdict] ?? "muted");
}

function ref(rollout, version) {
  return `${rollout.model}:${version}`;
}

// --- the list of every endpoint ------------------------------------------------------------

function gateBadges(rollout) {
  const gates = rollout?.verdicts?.gates ?? [];
  if (!gates.length) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: "gate-badges" },
    gates.map((g) => h("span", { title: `${g.gate}: ${g.verdict}${g.reason ? ` (${g.reason})` : ""}` }, verdictBadge(g.verdict))),
  );
}

function splitText(rollout) {
  if (!rollout || !LIVE.has(rollout.status)) return "—";
  if (rollout.phase === "shadow") return `shadow ${fmt.pct(rollout.spec?.sample ?? 1, 0)} of requests`;
  if (rollout.phase === "blue-green") return "green 100%, blue kept loaded";
  return `candidate ${fmt.num(rollout.weight)}% · primary ${fmt.num(100 - rollout.weight)}%`;
}

function stepText(rollout) {
  if (!rollout) return "—";
  if (rollout.phase === "canary" && rollout.steps?.length) return `canary ${rollout.step + 1} of ${rollout.steps.length}`;
  return rollout.phase;
}

async function listPage() {
  const slot = document.getElementById("rollout-list");
  showState(slot, "loading");
  await live(async () => {
    const { endpoints } = await api("/v1/endpoints");
    if (!endpoints.length) {
      showState(slot, "empty", "No endpoints yet. Create one with: modelport endpoints create NAME --model MODEL:VERSION");
      return;
    }
    const answers = await Promise.all(endpoints.map((e) => api(path(e.name))));
    const rows = answers.map((answer) => ({ endpoint: answer.endpoint, rollout: answer.rollout }));
    const rank = (row) => (row.rollout ? (LIVE.has(row.rollout.status) ? 0 : 1) : 2);
    rows.sort(
      (a, b) =>
        rank(a) - rank(b) ||
        String(b.rollout?.updated_at ?? "").localeCompare(String(a.rollout?.updated_at ?? "")) ||
        a.endpoint.localeCompare(b.endpoint),
    );
    const columns = [
      { key: "endpoint", label: "Endpoint", render: (row) => h("a", { href: pageOf(row.endpoint), class: "mono", dataset: { endpoint: row.endpoint } }, row.endpoint) },
      { key: "status", label: "Rollout", render: (row) => (row.rollout ? h("span", {}, statusBadge(row.rollout.status), ` #${row.rollout.id}`) : h("span", { class: "muted" }, "none yet")) },
      { key: "strategy", label: "Strategy", render: (row) => row.rollout?.strategy ?? "—" },
      { key: "versions", label: "Candidate vs primary", render: (row) => (row.rollout ? `${ref(row.rollout, row.rollout.candidate)} vs ${ref(row.rollout, row.rollout.primary)}` : "—") },
      { key: "phase", label: "Phase / step", render: (row) => (row.rollout && LIVE.has(row.rollout.status) ? stepText(row.rollout) : "—") },
      { key: "split", label: "Traffic", render: (row) => splitText(row.rollout) },
      { key: "gates", label: "Gates", render: (row) => (row.rollout && LIVE.has(row.rollout.status) ? gateBadges(row.rollout) : "—") },
      { key: "updated", label: "Updated", render: (row) => (row.rollout ? h("span", { title: fmt.time(row.rollout.updated_at) }, fmt.ago(row.rollout.updated_at)) : "—") },
      { key: "note", label: "Why", render: (row) => (row.rollout ? h("span", { class: "note" }, row.rollout.note || "—") : "—") },
    ];
    replace(slot, table(columns, rows, { empty: "No endpoints" }));
  });
}

// --- one endpoint's rollout -------------------------------------------------------------

function progressBar(share, label) {
  const width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return h(
    "div",
    { class: "progress", role: "progressbar", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(Math.round(Math.max(0, Math.min(1, share)) * 100)) },
    h("span", { style: { width } }),
  );
}

function legendItem(kind, text) {
  return h("span", { class: "split-key" }, h("span", { class: `swatch split-${kind}`, "aria-hidden": "true" }), text);
}

function splitBar(rollout, serving) {
  const routing = serving?.routing ?? {};
  const primaryRef = ref(rollout, rollout.primary);
  const candidateRef = ref(rollout, rollout.candidate);
  let primary = 100;
  let note = null;
  if (rollout.phase === "shadow") {
    note = `The primary answers every caller; the candidate gets a background copy of ${fmt.pct(rollout.spec?.sample ?? 1, 0)} of requests.`;
  } else if (rollout.phase === "blue-green") {
    primary = 0;
    note = `Blue ${primaryRef} stays loaded to switch back at once.`;
  } else {
    primary = 100 - Number(routing.weight ?? rollout.weight ?? 0);
  }
  const candidate = 100 - primary;
  const label = `primary ${primaryRef} ${fmt.num(primary)}%, candidate ${candidateRef} ${fmt.num(candidate)}%`;
  return h(
    "div",
    { class: "split-block" },
    h(
      "div",
      { class: "split", role: "img", "aria-label": label, title: label, dataset: { weight: String(candidate) } },
      primary > 0 ? h("span", { class: "split-primary", style: { width: `${primary}%` } }) : null,
      candidate > 0 ? h("span", { class: "split-candidate", style: { width: `${candidate}%` } }) : null,
    ),
    h(
      "div",
      { class: "split-legend" },
      legendItem("primary", `primary ${primaryRef}: ${fmt.num(primary)}%`),
      legendItem("candidate", `${rollout.phase === "blue-green" ? "green" : "candidate"} ${candidateRef}: ${fmt.num(candidate)}%`),
    ),
    note ? h("p", { class: "muted" }, note) : null,
  );
}

function stepList(rollout) {
  const steps = rollout.spec?.steps ?? [];
  const items = [];
  if (rollout.strategy === "shadow-then-canary" || rollout.strategy === "shadow") {
    items.push(h("li", { class: rollout.phase === "shadow" ? "current" : "done", "aria-current": rollout.phase === "shadow" ? "step" : null }, "shadow"));
  }
  if (rollout.strategy !== "shadow" && rollout.strategy !== "blue-green") {
    steps.forEach((weight, index) => {
      const current = rollout.phase === "canary" && index === rollout.step;
      const done = rollout.phase === "canary" && index < rollout.step;
      items.push(h("li", { class: current ? "current" : done ? "done" : null, "aria-current": current ? "step" : null }, `${weight}%`));
    });
  }
  return items.length ? h("ol", { class: "steps", "aria-label": "Steps" }, items) : null;
}

function stepProgress(rollout) {
  const progress = rollout.verdicts?.progress ?? {};
  if (rollout.phase === "blue-green") {
    const total = rollout.spec?.keep_blue_s ?? 0;
    const remaining = progress.remaining_s;
    if (remaining === undefined) return null;
    return h("div", {}, progressBar(total ? 1 - remaining / total : 1, "keep-blue time"), h("span", { class: "muted" }, `blue released in ${fmt.duration(remaining)}`));
  }
  const pieces = [];
  // A paused rollout is not analysed: its last analysis says how far the step got.
  const elapsed = rollout.status === "active" || progress.elapsed_s === undefined
    ? Math.max(0, (Date.now() - new Date(rollout.step_started_at).getTime()) / 1000)
    : progress.elapsed_s;
  if (progress.step_every_s) {
    pieces.push(progressBar(elapsed / progress.step_every_s, "time in step"), h("span", { class: "muted", dataset: { role: "time-in-step" } }, `${fmt.duration(elapsed)} of ${fmt.duration(progress.step_every_s)} in this step`));
  }
  if (progress.step_after_requests) {
    pieces.push(progressBar(progress.requests / progress.step_after_requests, "requests in step"), h("span", { class: "muted" }, `${fmt.int(progress.requests)} of ${fmt.int(progress.step_after_requests)} requests`));
  }
  if (!pieces.length) return h("span", { class: "muted" }, `${fmt.duration(elapsed)} in this step`);
  return h("div", { class: "step-progress" }, pieces);
}

function waitingFor(rollout) {
  const waiting = (rollout.verdicts?.gates ?? []).filter((g) => g.verdict === "inconclusive" && g.reason);
  return waiting.length
    ? h("ul", { class: "waiting" }, waiting.map((g) => h("li", {}, h("span", { class: "mono" }, g.gate), `: ${g.reason}`)))
    : null;
}

function renderSummary(slot, rollout, serving) {
  if (!LIVE.has(rollout.status)) {
    const box = showState(slot, "info", "No rollout in progress.");
    box.dataset.rollout = String(rollout.id);
    box.appendChild(
      h(
        "p",
        { class: "last-rollout" },
        "The last one: ",
        h("strong", {}, `#${rollout.id} ${rollout.strategy}`),
        ` of ${ref(rollout, rollout.candidate)} against ${ref(rollout, rollout.primary)} `,
        statusBadge(rollout.status),
        ` ${fmt.ago(rollout.finished_at)} (${fmt.time(rollout.finished_at)}): ${rollout.note || "no reason given"}`,
      ),
    );
    return;
  }
  replace(
    slot,
    h(
      "div",
      { class: "summary-grid" },
      kv([
        ["Status", h("span", { dataset: { status: rollout.status } }, statusBadge(rollout.status), ` #${rollout.id}`)],
        ["Strategy", rollout.strategy],
        ["Candidate", h("span", { class: "mono" }, ref(rollout, rollout.candidate))],
        ["Primary", h("span", { class: "mono" }, ref(rollout, rollout.primary))],
        ["Phase", rollout.phase === "canary" && rollout.steps?.length ? `canary, step ${rollout.step + 1} of ${rollout.steps.length}` : rollout.phase],
        ["Started", h("span", { title: fmt.time(rollout.created_at) }, `${fmt.ago(rollout.created_at)} by ${rollout.created_by}`)],
      ]),
      h(
        "div",
        { class: "summary-side" },
        h("h3", {}, "Traffic split"),
        splitBar(rollout, serving),
        stepList(rollout),
        h("h3", {}, "This step"),
        stepProgress(rollout),
      ),
    ),
    h(
      "div",
      { class: "why", dataset: { role: "why" } },
      h("h3", {}, rollout.status === "paused" ? "Paused" : "Why it is waiting"),
      h("p", {}, rollout.note || "—"),
      waitingFor(rollout),
    ),
  );
}

// --- gates over time ---------------------------------------------------------------------

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

class GateView {
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

// --- report and audit trail -------------------------------------------------------------

function deltaTable(report) {
  const errors = report.errors ?? {};
  const latency = report.latency_ms ?? {};
  const rows = [
    { metric: "requests", primary: fmt.int(report.requests?.primary), candidate: fmt.int(report.requests?.candidate), delta: "" },
    {
      metric: "error rate",
      primary: fmt.pct(errors.primary?.rate, 2),
      candidate: fmt.pct(errors.candidate?.rate, 2),
      delta: errors.primary?.rate !== null && errors.candidate?.rate !== null && errors.primary && errors.candidate ? fmt.pct(errors.candidate.rate - errors.primary.rate, 2) : "—",
    },
  ];
  for (const key of ["p50", "p99", "mean"]) {
    rows.push({
      metric: `latency ${key}`,
      primary: fmt.ms(latency.primary?.[key]),
      candidate: fmt.ms(latency.candidate?.[key]),
      delta: latency.delta?.[key] !== undefined ? fmt.ms(latency.delta[key]) : "—",
    });
  }
  return table(
    [
      { key: "metric", label: "Metric" },
      { key: "primary", label: `Primary ${report.primary}`, numeric: true },
      { key: "candidate", label: `Candidate ${report.candidate}`, numeric: true },
      { key: "delta", label: "Δ candidate − primary", numeric: true },
    ],
    rows,
  );
}

function comparisonPairs(comparison) {
  const pairs = [];
  for (const [key, value] of Object.entries(comparison ?? {})) {
    if (typeof value === "number" || value === null) {
      const label = key.replaceAll("_", " ");
      pairs.push([label, key === "agreement" ? fmt.pct(value, 1) : key === "rows" ? fmt.int(value) : fmt.num(value, 4)]);
    }
  }
  const distribution = comparison?.distribution ?? {};
  for (const [key, value] of Object.entries(distribution)) {
    if (typeof value === "number") pairs.push([`${key.replaceAll("_", " ")} (prediction distribution)`, fmt.num(value, 4)]);
  }
  return pairs;
}

function confusion(comparison) {
  const matrix = comparison?.confusion;
  if (!matrix?.labels?.length) return null;
  const columns = [{ key: "label", label: "primary \\ candidate" }, ...matrix.labels.map((label, i) => ({ key: String(i), label, numeric: true }))];
  const rows = matrix.labels.map((label, i) => ({ label, ...Object.fromEntries(matrix.matrix[i].map((count, j) => [String(j), fmt.int(count)])) }));
  return h("div", { class: "table-wrap" }, h("h3", {}, "Confusion (rows: primary's answer)"), table(columns, rows));
}

function slicesTable(slices) {
  if (!slices?.rows?.length) return h("p", { class: "muted" }, "No rows in any slice yet.");
  const keys = Object.keys(slices.rows[0]).filter((key) => key !== "slice");
  const columns = [
    { key: "slice", label: slices.feature },
    ...keys.map((key) => ({
      key,
      label: key.replaceAll("_", " "),
      numeric: true,
      render: (row) => (key === "rows" ? fmt.int(row[key]) : key.endsWith("rate") || key === "agreement" ? fmt.pct(row[key], 1) : fmt.num(row[key], 4)),
    })),
  ];
  return h("div", { class: "table-wrap", dataset: { role: "slices" } }, table(columns, slices.rows));
}

function auditTable(events) {
  const rows = [...events].reverse();
  return table(
    [
      { key: "at", label: "When", render: (e) => h("span", { title: fmt.ago(e.at) }, fmt.time(e.at)) },
      { key: "actor", label: "Who", render: (e) => h("span", { class: "mono" }, e.actor) },
      { key: "action", label: "What", render: (e) => badge(e.action, ACTION_TONE[e.action] ?? "muted") },
      { key: "where", label: "Phase · step", render: (e) => (e.phase === "canary" ? `canary ${e.step + 1} · ${fmt.num(e.weight)}%` : e.phase) },
      { key: "reason", label: "Why", render: (e) => h("span", { class: "note" }, e.reason || "—") },
    ],
    rows,
    { empty: "No events yet" },
  );
}

// --- actions ---------------------------------------------------------------------------

const VERBS = {
  promote: {
    label: "Promote",
    title: "Promote the candidate?",
    message: (r) => `${ref(r, r.candidate)} becomes the primary of ${r.endpoint} at once, whatever the gates say.`,
    reason: false,
  },
  rollback: {
    label: "Roll back",
    title: "Roll back?",
    message: (r) => `${ref(r, r.primary)} answers every request again; the rollout ends.`,
    reason: true,
    danger: true,
  },
  pause: { label: "Pause", title: "Pause the rollout?", message: () => "Automatic steps stop until resumed; traffic keeps its current split.", reason: false },
  resume: { label: "Resume", title: "Resume the rollout?", message: () => "Automatic steps start again; the current step starts over.", reason: false },
};

function renderActions(slot, ctx, rollout, onDone) {
  const errorBox = document.getElementById("action-error");
  if (!LIVE.has(rollout.status)) {
    replace(slot);
    return;
  }
  const verbs = ["promote", "rollback", rollout.status === "paused" ? "resume" : "pause"];
  const buttons = verbs.map((verb) => {
    const spec = VERBS[verb];
    return actionButton(spec.label, {
      permission: "deploy",
      ctx,
      danger: spec.danger ?? false,
      onClick: async () => {
        const answer = await confirmAction({
          title: spec.title,
          message: spec.message(rollout),
          confirmLabel: spec.label,
          danger: spec.danger ?? false,
          fields: [{ name: "reason", label: spec.reason ? "Reason (kept in the audit trail)" : "Reason (optional)", type: "text", required: spec.reason }],
        });
        if (!answer) return;
        errorBox.hidden = true;
        try {
          const body = answer.reason ? { reason: answer.reason } : {};
          const done = await api(`${path(rollout.endpoint)}/${verb}`, { method: "POST", body });
          toast(`${spec.label}: rollout #${done.id} is ${done.status}`, "ok");
        } catch (error) {
          errorBox.textContent = `${spec.label} refused: ${error.message}`;
          errorBox.hidden = false;
          toast(error.message, "bad");
        }
        await onDone();
      },
    });
  });
  const note = ctx.can("deploy") ? null : h("span", { class: "muted" }, `Read-only: acting needs the deploy permission (you are ${ctx.who.role ?? ctx.who.name}).`);
  replace(slot, note, buttons);
}

// --- the page --------------------------------------------------------------------------

async function endpointPage(ctx) {
  const name = ctx.params.endpoint;
  const el = (id) => document.getElementById(id);
  const views = new Map();
  let rolloutId = null;
  let rounds = [];
  let actionsKey = null;
  let sliceBy = "";
  let features = null;
  let finishedReport = null;
  let poller = null;

  const reset = () => {
    for (const view of views.values()) view.dispose();
    views.clear();
    replace(el("gates"));
    rounds = [];
    features = null;
    finishedReport = null;
  };

  const loadRounds = async (rollout) => {
    const since = rounds.length ? rounds[rounds.length - 1].at : null;
    const answer = await api(`${path(name)}/analyses`, { query: { rollout: rollout.id, since, limit: since ? null : FIRST_ROUNDS } });
    rounds = rounds.concat(answer.analyses).slice(-MAX_ROUNDS);
  };

  const renderGates = (rollout) => {
    const latest = new Map((rollout.verdicts?.gates ?? []).map((g) => [g.gate, g]));
    const names = rollout.spec?.gates ?? [...latest.keys()];
    if (!names.length) {
      showState(el("gates"), "info", rollout.strategy === "blue-green" ? "Blue-green has no gates: green answers at once, blue stays loaded for keep-blue." : "This rollout has no gates.");
      return;
    }
    if (views.size !== names.length || names.some((gate) => !views.has(gate))) {
      for (const view of views.values()) view.dispose();
      views.clear();
      for (const gate of names) views.set(gate, new GateView(gate));
      replace(el("gates"), [...views.values()].map((view) => view.el));
    }
    const lastRound = rounds[rounds.length - 1];
    const begin = Math.min(new Date(rollout.created_at).getTime(), rounds.length ? new Date(rounds[0].at).getTime() : Infinity);
    const end = rollout.finished_at ? new Date(rollout.finished_at).getTime() : Date.now();
    const span = [begin, Math.max(end, lastRound ? new Date(lastRound.at).getTime() : end, begin + 60_000)];
    for (const [gate, view] of views) {
      view.update(latest.get(gate) ?? lastRound?.gates.find((g) => g.gate === gate), rounds, span);
    }
  };

  const featureSelect = async (rollout) => {
    if (features === null) {
      try {
        const version = await api(`/v1/models/${encodeURIComponent(rollout.model)}/versions/${rollout.candidate}`);
        features = (version.input_schema?.features ?? []).map((f) => f.name);
      } catch {
        features = [];
      }
    }
    const select = h(
      "select",
      {
        id: "slice-by",
        on: {
          change: (event) => {
            sliceBy = event.target.value;
            finishedReport = null;
            poller?.now();
          },
        },
      },
      h("option", { value: "" }, "no slicing"),
      features.map((feature) => h("option", { value: feature, selected: feature === sliceBy }, feature)),
    );
    return h("div", { class: "toolbar" }, h("label", { for: "slice-by" }, "Slice by"), select);
  };

  const renderReport = async (rollout) => {
    const slot = el("report");
    let report = finishedReport;
    if (!report) {
      try {
        report = await api(`${path(name)}/report`, { query: { rollout: rollout.id, slice: sliceBy || null } });
      } catch (error) {
        showState(slot, "error", error.message);
        return;
      }
      if (!LIVE.has(rollout.status)) finishedReport = report;
    }
    const paired = report.comparison?.rows ?? report.requests?.paired_rows ?? 0;
    const toolbar = await featureSelect(rollout);
    if (!paired) {
      replace(slot, toolbar, deltaTable(report));
      slot.appendChild(h("div", {}));
      showState(slot.lastChild, "empty", "No request answered by both versions yet: agreement and slices appear once there are.");
      return;
    }
    replace(
      slot,
      toolbar,
      h("div", { class: "figures report-figures" },
        report.comparison?.agreement !== undefined
          ? h("div", { class: "figure" }, h("span", { class: "value", dataset: { role: "agreement" } }, fmt.pct(report.comparison.agreement, 1)), h("span", { class: "label" }, `agreement on ${fmt.int(paired)} paired rows`))
          : h("div", { class: "figure" }, h("span", { class: "value" }, fmt.int(paired)), h("span", { class: "label" }, "paired rows"))),
      h("h3", {}, "Metric deltas"),
      h("div", { class: "table-wrap" }, deltaTable(report)),
      report.latency_ms?.note ? h("p", { class: "muted" }, report.latency_ms.note) : null,
      h("h3", {}, "Comparison"),
      kv(comparisonPairs(report.comparison)),
      confusion(report.comparison),
      sliceBy ? h("h3", {}, `Slices by ${sliceBy}`) : null,
      sliceBy ? slicesTable(report.slices) : null,
    );
  };

  const refresh = async () => {
    const status = await api(path(name));
    const rollout = status.rollout;
    if (!rollout) {
      reset();
      replace(el("actions"));
      showState(el("summary"), "info", `No rollout yet. Start one with: modelport rollout start ${name} --version N`);
      for (const id of ["gates", "report", "history"]) showState(el(id), "empty", "Nothing to show before the first rollout.");
      return;
    }
    if (rollout.id !== rolloutId) {
      reset();
      rolloutId = rollout.id;
    }
    const [history] = await Promise.all([api(`${path(name)}/history`, { query: { rollout: rollout.id } }), loadRounds(rollout)]);
    renderSummary(el("summary"), rollout, status.serving);
    const key = `${rollout.id}:${rollout.status}:${ctx.can("deploy")}`;
    if (key !== actionsKey) {
      actionsKey = key;
      renderActions(el("actions"), ctx, rollout, () => poller?.now());
    }
    renderGates(rollout);
    replace(el("history"), auditTable(history.history));
    await renderReport(rollout);
  };

  poller = await live(refresh, { intervalMs: ctx.refreshMs });
}

ready(async (ctx) => {
  if (ctx.params.endpoint) await endpointPage(ctx);
  else await listPage(ctx);
});
