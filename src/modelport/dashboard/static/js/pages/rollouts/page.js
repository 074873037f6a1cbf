// /dashboard/endpoints/{name}/rollout: one rollout's progress, gates, report and trail.
import { api } from "../../core/api.js";
import { fmt, h, kv, replace, showState } from "../../core/dom.js";
import { live } from "../../core/live.js";
import { renderActions } from "./actions.js";
import { LIVE, path } from "./common.js";
import { GateView } from "./gates.js";
import { auditTable, comparisonPairs, confusion, deltaTable, slicesTable } from "./report.js";
import { renderSummary } from "./summary.js";

// The report re-reads the rollout's whole log, which takes a while on a long busy rollout:
// it loads in the background, at most this often while the rollout is live (once when it
// has ended), so the rest of the page stays live.
const REPORT_EVERY_MS = 60_000;

// Rounds kept in the page: the API keeps rounds sparser as a rollout ages, so this spans
// a whole rollout; the oldest fall off a very long one.
const MAX_ROUNDS = 2000;
const FIRST_ROUNDS = 1000;

class ReportView {
  constructor(slot, endpoint, poller) {
    this.slot = slot;
    this.endpoint = endpoint;
    this.poller = poller;
    this.sliceBy = "";
    this.select = h("select", { id: "slice-by", on: { change: () => this.sliced() } }, h("option", { value: "" }, "no slicing"));
    this.body = h("div", { class: "report-body" });
    this.forget();
  }

  forget() {
    this.rolloutId = null;
    this.loadedAt = 0;
    this.running = null;
    this.final = false;
  }

  sliced() {
    this.sliceBy = this.select.value;
    this.loadedAt = 0;
    this.final = false;
    this.poller()?.now();
  }

  async features(rollout) {
    try {
      const version = await api(`/v1/models/${encodeURIComponent(rollout.model)}/versions/${rollout.candidate}`);
      return (version.input_schema?.features ?? []).map((f) => f.name);
    } catch {
      return [];
    }
  }

  refresh(rollout) {
    if (rollout.id !== this.rolloutId) {
      this.forget();
      this.rolloutId = rollout.id;
      this.sliceBy = "";
      replace(this.select, h("option", { value: "" }, "no slicing"));
      replace(this.slot, h("div", { class: "toolbar" }, h("label", { for: "slice-by" }, "Slice by"), this.select), this.body);
      showState(this.body, "loading", "Comparing the candidate's answers with the primary's…");
      this.features(rollout).then((names) => this.select.append(...names.map((n) => h("option", { value: n }, n))));
    }
    if (this.running || this.final || Date.now() - this.loadedAt < REPORT_EVERY_MS) return;
    this.running = this.load(rollout).finally(() => {
      this.running = null;
      this.loadedAt = Date.now();
    });
  }

  async load(rollout) {
    const sliceBy = this.sliceBy;
    let report;
    try {
      report = await api(`${path(this.endpoint)}/report`, { query: { rollout: rollout.id, slice: sliceBy || null } });
    } catch (error) {
      if (rollout.id === this.rolloutId) showState(this.body, "error", error.message);
      return;
    }
    if (rollout.id !== this.rolloutId || sliceBy !== this.sliceBy) return; // moved on meanwhile
    this.final = !LIVE.has(rollout.status);
    this.render(report, sliceBy);
  }

  render(report, sliceBy) {
    const paired = report.comparison?.rows ?? report.requests?.paired_rows ?? 0;
    if (!paired) {
      const none = h("div");
      replace(this.body, h("div", { class: "table-wrap" }, deltaTable(report)), none);
      showState(none, "empty", "No request answered by both versions yet: agreement and slices appear once there are.");
      return;
    }
    const agreement = report.comparison?.agreement;
    replace(
      this.body,
      h(
        "div",
        { class: "figures report-figures" },
        agreement !== undefined
          ? h("div", { class: "figure" }, h("span", { class: "value", dataset: { role: "agreement" } }, fmt.pct(agreement, 1)), h("span", { class: "label" }, `agreement on ${fmt.int(paired)} paired rows`))
          : h("div", { class: "figure" }, h("span", { class: "value" }, fmt.int(paired)), h("span", { class: "label" }, "paired rows")),
      ),
      h("h3", {}, "Metric deltas"),
      h("div", { class: "table-wrap" }, deltaTable(report)),
      report.latency_ms?.note ? h("p", { class: "muted" }, report.latency_ms.note) : null,
      h("h3", {}, "Comparison"),
      kv(comparisonPairs(report.comparison)),
      confusion(report.comparison),
      sliceBy ? h("h3", {}, `Slices by ${sliceBy}`) : null,
      sliceBy ? slicesTable(report.slices) : null,
      h("p", { class: "muted" }, `Read ${fmt.time(new Date().toISOString())}; refreshed every minute while the rollout is live.`),
    );
  }
}

export async function endpointPage(ctx) {
  const name = ctx.params.endpoint;
  const el = (id) => document.getElementById(id);
  const views = new Map();
  const report = new ReportView(el("report"), name, () => poller);
  let rolloutId = null;
  let rounds = [];
  let actionsKey = null;
  let poller = null;

  const reset = () => {
    for (const view of views.values()) view.dispose();
    views.clear();
    replace(el("gates"));
    rounds = [];
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

  const refresh = async () => {
    const status = await api(path(name));
    const rollout = status.rollout;
    if (!rollout) {
      reset();
      report.forget();
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
    report.refresh(rollout);
  };

  poller = await live(refresh, { intervalMs: ctx.refreshMs });
}
