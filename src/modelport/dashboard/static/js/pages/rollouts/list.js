// /dashboard/rollouts: every endpoint's latest rollout, live ones first.
import { api } from "../../core/api.js";
import { fmt, h, replace, showState, table } from "../../core/dom.js";
import { live } from "../../core/live.js";
import { LIVE, pageOf, path, ref, statusBadge, verdictBadge } from "./common.js";

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

export async function listPage() {
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
