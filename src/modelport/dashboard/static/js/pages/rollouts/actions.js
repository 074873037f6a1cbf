// Promote, roll back, pause and resume: confirmed, for callers allowed to deploy.
import { api } from "../../core/api.js";
import { h, replace } from "../../core/dom.js";
import { actionButton, confirmAction, toast } from "../../core/ui.js";
import { LIVE, path, ref } from "./common.js";

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

export function renderActions(slot, ctx, rollout, onDone) {
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
