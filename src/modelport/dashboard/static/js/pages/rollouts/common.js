// What the rollouts pages share: API paths, tones, version names.
import { badge } from "../../core/dom.js";

export const STATUS_TONE = { active: "info", paused: "warn", promoted: "ok", "rolled-back": "bad", aborted: "bad" };
export const VERDICT_TONE = { pass: "ok", fail: "bad", inconclusive: "warn", skipped: "muted" };
export const LIVE = new Set(["active", "paused"]);

export const path = (name) => `/v1/endpoints/${encodeURIComponent(name)}/rollout`;
export const pageOf = (name) => `/dashboard/endpoints/${encodeURIComponent(name)}/rollout`;

export function statusBadge(status) {
  return badge(status, STATUS_TONE[status] ?? "muted");
}

export function verdictBadge(verdict) {
  return badge(verdict ?? "no verdict", VERDICT_TONE[verdict] ?? "muted");
}

export function ref(rollout, version) {
  return `${rollout.model}:${version}`;
}
