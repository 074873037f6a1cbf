// The alerts page: firing and pending alerts with their values and thresholds, silence and
// acknowledge for callers allowed to deploy, recently resolved ones, the rules and the
// history, all from GET /v1/alerts, /v1/alerts/active, /v1/alerts/history and
// /v1/alerts/{name} (silences in force).
import { ready } from "../core/boot.js";
import { api } from "../core/api.js";
import { badge, fmt, h, replace, showState, table } from "../core/dom.js";
import { live } from "../core/live.js";
import { actionButton, confirmAction, toast } from "../core/ui.js";

const STATE_TONE = { firing: "bad", pending: "warn", resolved: "ok", inactive: "muted" };
const SEVERITY_TONE = { critical: "bad", warning: "warn", info: "info" };
const HISTORY_LIMIT = 200;
const RESOLVED_SHOWN = 50;

const rulePath = (name) => `/v1/alerts/${encodeURIComponent(name)}`;

function labelBadges(labels) {
  const entries = Object.entries(labels ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h(
    "span",
    { class: "labels" },
    entries.map(([key, value]) =>
      key === "endpoint"
        ? h("a", { class: "label-chip mono", href: `/dashboard/endpoints/${encodeURIComponent(value)}` }, `${key}=${value}`)
        : h("span", { class: "label-chip mono" }, `${key}=${value}`),
    ),
  );
}

function thresholdText(rule) {
  const t = rule?.threshold ?? {};
  if (t.kind === "adaptive") {
    const sides = { above: "upper edge", below: "lower edge", both: "both edges" }[t.direction] ?? t.direction;
    const limits = [t.floor !== null && t.floor !== undefined ? `floor ${fmt.num(t.floor)}` : null, t.ceiling !== null && t.ceiling !== undefined ? `ceiling ${fmt.num(t.ceiling)}` : null].filter(Boolean);
    return `adaptive: mean ± ${fmt.num(t.sigma)}σ, ${sides}${limits.length ? `, ${limits.join(", ")}` : ""}`;
  }
  const parts = [];
  if (t.above !== null && t.above !== undefined) parts.push(`above ${fmt.num(t.above, 4)}`);
  if (t.below !== null && t.below !== undefined) parts.push(`below ${fmt.num(t.below, 4)}`);
  let text = parts.join(" or ") || "—";
  if (t.resolve_at !== null && t.resolve_at !== undefined) text += ` (resolves at ${fmt.num(t.resolve_at, 4)})`;
  return text;
}

function bandText(band) {
  const lower = band?.lower;
  const upper = band?.upper;
  const has = (v) => v !== null && v !== undefined;
  if (has(lower) && has(upper)) return `[${fmt.num(lower, 4)}, ${fmt.num(upper, 4)}]`;
  if (has(upper)) return `≤ ${fmt.num(upper, 4)}`;
  if (has(lower)) return `≥ ${fmt.num(lower, 4)}`;
  return "—";
}

function thresholdCell(rule, alert) {
  if (rule?.threshold?.kind === "adaptive") {
    return h("span", { title: thresholdText(rule) }, `band ${bandText(alert.band)}`, h("br"), h("span", { class: "muted" }, "adaptive"));
  }
  return h("span", {}, thresholdText(rule));
}

function scopeText(rule) {
  const parts = [];
  if (rule.feature) parts.push(rule.feature === "*" ? "every feature" : `feature ${rule.feature}`);
  if (rule.version !== null && rule.version !== undefined) parts.push(`v${rule.version}`);
  if (rule.role) parts.push(`role ${rule.role}`);
  return parts.join(", ") || "endpoint";
}

function covering(silences, alert) {
  return (silences ?? []).filter(
    (s) => s.rule === alert.rule && new Date(s.until) > new Date() && Object.entries(s.labels ?? {}).every(([k, v]) => alert.labels?.[k] === v),
  );
}

function silencedCell(alert, silences) {
  const mine = covering(silences, alert);
  if (mine.length) {
    const last = mine.reduce((a, b) => (new Date(a.until) > new Date(b.until) ? a : b));
    return h(
      "span",
      { dataset: { silenced: "1" }, title: `${last.reason || "no reason given"} (by ${last.by})` },
      badge("silenced", "info"),
      ` until ${fmt.time(last.until)}`,
      h("br"),
      h("span", { class: "muted" }, `${last.reason || "no reason"} · ${last.by}`),
    );
  }
  return alert.silenced ? badge("silenced", "info") : h("span", { class: "muted" }, "no");
}

function historyDetail(entry) {
  switch (entry.kind) {
    case "transition":
      return `${entry.from_state} → ${entry.to_state}${entry.silenced ? " (silenced)" : ""}${entry.notify ? ", notified" : ""}`;
    case "ack":
      return `acknowledged by ${entry.by ?? "—"}`;
    case "silence":
      return `silenced until ${fmt.time(entry.until)} by ${entry.by}: ${entry.reason || "no reason given"}`;
    case "rule-added":
      return `rule added by ${entry.by} (${entry.source ?? "api"})`;
    case "rule-deleted":
      return `rule deleted by ${entry.by}`;
    case "delivery":
      return `${entry.notifier}: ${entry.delivered ? "delivered" : "failed"} (${entry.status ?? "—"}${entry.attempts ? `, ${entry.attempts} attempt${entry.attempts === 1 ? "" : "s"}` : ""})${entry.error ? `: ${entry.error}` : ""}`;
    default:
      return entry.kind;
  }
}

function historyTone(entry) {
  if (entry.kind === "transition") return STATE_TONE[entry.to_state] ?? "muted";
  if (entry.kind === "delivery") return entry.delivered ? "ok" : "bad";
  if (entry.kind === "silence" || entry.kind === "ack") return "info";
  return "muted";
}

ready(async (ctx) => {
  const el = (id) => document.getElementById(id);
  const errorBox = el("action-error");
  let history = [];
  let poller = null;

  const act = async (label, run) => {
    errorBox.hidden = true;
    try {
      await run();
      toast(label, "ok");
    } catch (error) {
      errorBox.textContent = `${label} refused: ${error.message}`;
      errorBox.hidden = false;
      toast(error.message, "bad");
    }
    await poller?.now();
  };

  const silenceButton = (alert) =>
    actionButton("Silence", {
      permission: "deploy",
      ctx,
      onClick: async () => {
        const answer = await confirmAction({
          title: `Silence ${alert.rule}?`,
          message: `Notifications for ${alert.rule} ${Object.entries(alert.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")} stop until the silence ends; the alert still changes state.`,
          confirmLabel: "Silence",
          fields: [
            { name: "for", label: "Duration (e.g. 30m, 2h, 1d)", type: "text", value: "2h", required: true },
            { name: "reason", label: "Reason", type: "text", required: true },
          ],
        });
        if (!answer) return;
        await act(`Silenced ${alert.rule} for ${answer.for}`, () =>
          api(`${rulePath(alert.rule)}/silence`, { method: "POST", body: { for: answer.for, reason: answer.reason, labels: alert.labels } }),
        );
      },
    });

  const ackButton = (alert) =>
    actionButton("Acknowledge", {
      permission: "deploy",
      ctx,
      onClick: async () => {
        const answer = await confirmAction({
          title: `Acknowledge ${alert.rule}?`,
          message: "Records that you are on it (who and when, kept in the history); cleared when the alert resolves.",
          confirmLabel: "Acknowledge",
        });
        if (!answer) return;
        await act(`Acknowledged ${alert.rule}`, () => api(`${rulePath(alert.rule)}/ack`, { method: "POST", body: { labels: alert.labels } }));
      },
    });

  const renderCounts = (rules, alerts) => {
    const count = (state) => alerts.filter((a) => a.state === state).length;
    const figure = (value, label, role) => h("div", { class: "figure" }, h("span", { class: "value", dataset: { count: role } }, fmt.int(value)), h("span", { class: "label" }, label));
    replace(el("counts"), figure(count("firing"), "firing", "firing"), figure(count("pending"), "pending", "pending"), figure(rules.length, "rules", "rules"));
  };

  const renderActive = (rulesByName, alerts, silences) => {
    if (!alerts.length) {
      showState(el("active"), "info", "Nothing firing or pending.");
      return;
    }
    const order = { firing: 0, pending: 1 };
    const sorted = [...alerts].sort((a, b) => (order[a.state] ?? 2) - (order[b.state] ?? 2) || String(a.since).localeCompare(String(b.since)));
    const columns = [
      { key: "state", label: "State", render: (a) => badge(a.state, STATE_TONE[a.state] ?? "muted") },
      {
        key: "rule",
        label: "Rule",
        render: (a) => h("span", {}, h("strong", { class: "mono" }, a.rule), " ", badge(rulesByName.get(a.rule)?.severity ?? "warning", SEVERITY_TONE[rulesByName.get(a.rule)?.severity] ?? "muted"), h("br"), h("span", { class: "muted mono" }, rulesByName.get(a.rule)?.metric ?? "")),
      },
      { key: "labels", label: "Labels", render: (a) => labelBadges(a.labels) },
      { key: "value", label: "Value", numeric: true, render: (a) => fmt.num(a.value, 4) },
      { key: "threshold", label: "Threshold", render: (a) => thresholdCell(rulesByName.get(a.rule), a) },
      { key: "since", label: "Since", render: (a) => h("span", { title: fmt.time(a.since) }, fmt.ago(a.since)) },
      { key: "silenced", label: "Silenced", render: (a) => silencedCell(a, silences) },
      { key: "acked", label: "Acknowledged", render: (a) => (a.acked_by ? h("span", { dataset: { acked: "1" } }, badge("acked", "info"), ` ${a.acked_by}`, h("br"), h("span", { class: "muted" }, fmt.ago(a.acked_at))) : h("span", { class: "muted" }, "no")) },
      { key: "actions", label: "Actions", render: (a) => h("span", { class: "row-actions" }, silenceButton(a), a.acked_by ? null : ackButton(a)) },
    ];
    const grid = table(columns, sorted);
    // Rows carry their alert's identity so tests (and people with devtools) can find them.
    grid.querySelectorAll("tbody tr").forEach((tr, i) => {
      tr.dataset.rule = sorted[i].rule;
      tr.dataset.state = sorted[i].state;
      tr.dataset.labels = JSON.stringify(sorted[i].labels ?? {});
    });
    replace(el("active"), grid);
  };

  const renderResolved = (rulesByName) => {
    const weekAgo = Date.now() - 7 * 86400 * 1000;
    const resolved = history.filter((e) => e.kind === "transition" && e.to_state === "resolved" && new Date(e.at).getTime() >= weekAgo).slice(0, RESOLVED_SHOWN);
    if (!resolved.length) {
      showState(el("resolved"), "info", "No alert resolved in the last 7 days.");
      return;
    }
    replace(
      el("resolved"),
      table(
        [
          { key: "rule", label: "Rule", render: (e) => h("span", { class: "mono" }, e.rule) },
          { key: "labels", label: "Labels", render: (e) => labelBadges(e.labels) },
          { key: "value", label: "Value", numeric: true, render: (e) => fmt.num(e.value, 4) },
          {
            key: "band",
            label: "Threshold",
            // A deleted rule's resolved alerts keep the band they were judged against.
            render: (e) => {
              const rule = rulesByName.get(e.rule);
              return !rule || rule.threshold?.kind === "adaptive" ? `band ${bandText(e.band)}` : thresholdText(rule);
            },
          },
          { key: "at", label: "Resolved", render: (e) => h("span", { title: fmt.ago(e.at) }, fmt.time(e.at)) },
        ],
        resolved,
      ),
    );
  };

  const renderRules = (rules) => {
    if (!rules.length) {
      showState(el("rules"), "empty", "No alert rules yet. Add one with: modelport alerts add NAME --endpoint ENDPOINT --metric drift.psi --above 0.2 --for 15m (or declare [[alerts.rules]] in modelport.toml).");
      return;
    }
    replace(
      el("rules"),
      table(
        [
          { key: "name", label: "Name", render: (r) => h("span", { class: "mono", dataset: { rule: r.name } }, r.name) },
          { key: "endpoint", label: "Endpoint", render: (r) => h("span", {}, h("a", { href: `/dashboard/endpoints/${encodeURIComponent(r.endpoint)}` }, r.endpoint), r.orphaned ? [" ", badge("orphaned", "warn")] : null) },
          { key: "metric", label: "Metric", render: (r) => h("span", { class: "mono" }, r.metric) },
          { key: "scope", label: "Scope", render: scopeText },
          { key: "threshold", label: "Threshold", render: thresholdText },
          { key: "for_s", label: "For", numeric: true, render: (r) => (r.for_s ? fmt.duration(r.for_s) : "at once") },
          { key: "severity", label: "Severity", render: (r) => badge(r.severity, SEVERITY_TONE[r.severity] ?? "muted") },
          { key: "state", label: "State", render: (r) => h("span", {}, badge(r.state, STATE_TONE[r.state] ?? "muted"), r.firing > 1 ? ` ×${r.firing}` : null) },
          { key: "silenced_until", label: "Silenced until", render: (r) => (r.silenced_until ? fmt.time(r.silenced_until) : h("span", { class: "muted" }, "—")) },
          { key: "source", label: "Source", render: (r) => r.source },
        ],
        rules,
      ),
    );
  };

  const renderHistory = () => {
    const kind = el("history-kind").value;
    const shown = history.filter((e) => !kind || (kind === "rule" ? e.kind.startsWith("rule-") : e.kind === kind));
    replace(
      el("history"),
      table(
        [
          { key: "at", label: "When", render: (e) => h("span", { title: fmt.ago(e.at) }, fmt.time(e.at)) },
          { key: "rule", label: "Rule", render: (e) => h("span", { class: "mono" }, e.rule) },
          { key: "kind", label: "Kind", render: (e) => badge(e.kind === "transition" ? e.to_state : e.kind, historyTone(e)) },
          { key: "labels", label: "Labels", render: (e) => labelBadges(e.labels) },
          { key: "detail", label: "What", render: (e) => h("span", { class: "note" }, historyDetail(e)) },
          { key: "value", label: "Value", numeric: true, render: (e) => (e.kind === "transition" ? fmt.num(e.value, 4) : "") },
        ],
        shown,
        { empty: "No history yet" },
      ),
    );
  };
  el("history-kind").addEventListener("change", renderHistory);

  const refresh = async () => {
    const [rulesAnswer, activeAnswer, historyAnswer] = await Promise.all([
      api("/v1/alerts"),
      api("/v1/alerts/active"),
      api("/v1/alerts/history", { query: { since: "7d", limit: HISTORY_LIMIT } }),
    ]);
    const rules = rulesAnswer.rules;
    const alerts = activeAnswer.alerts;
    history = historyAnswer.history;
    const rulesByName = new Map(rules.map((r) => [r.name, r]));
    // Silences in force, from the rules that have an alert to show.
    const names = [...new Set(alerts.map((a) => a.rule))].filter((name) => rulesByName.has(name));
    const shown = await Promise.all(names.map((name) => api(rulePath(name))));
    const silences = shown.flatMap((rule) => rule.silences ?? []);
    renderCounts(rules, alerts);
    if (!rules.length && !alerts.length) {
      showState(el("active"), "empty", "No alert rules yet, so nothing can fire.");
    } else {
      renderActive(rulesByName, alerts, silences);
    }
    renderResolved(rulesByName);
    renderRules(rules);
    renderHistory();
  };

  poller = await live(refresh, { intervalMs: ctx.refreshMs });
});
