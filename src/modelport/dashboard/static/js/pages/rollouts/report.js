// The candidate vs primary report (GET .../rollout/report) and the audit trail.
import { badge, fmt, h, table } from "../../core/dom.js";

const ACTION_TONE = { start: "info", step: "info", promote: "ok", "release-blue": "ok", rollback: "bad", abort: "bad", pause: "warn", resume: "info", verdict: "muted" };

export function deltaTable(report) {
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

export function comparisonPairs(comparison) {
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

export function confusion(comparison) {
  const matrix = comparison?.confusion;
  if (!matrix?.labels?.length) return null;
  const columns = [{ key: "label", label: "primary \\ candidate" }, ...matrix.labels.map((label, i) => ({ key: String(i), label, numeric: true }))];
  const rows = matrix.labels.map((label, i) => ({ label, ...Object.fromEntries(matrix.matrix[i].map((count, j) => [String(j), fmt.int(count)])) }));
  return h("div", { class: "table-wrap" }, h("h3", {}, "Confusion (rows: primary's answer)"), table(columns, rows));
}

export function slicesTable(slices) {
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

export function auditTable(events) {
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
