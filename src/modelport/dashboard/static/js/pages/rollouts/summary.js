// The progress card: status, traffic split, steps, time in step and why it waits.
import { fmt, h, kv, replace, showState } from "../../core/dom.js";
import { LIVE, ref, statusBadge } from "./common.js";

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

export function renderSummary(slot, rollout, serving) {
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
