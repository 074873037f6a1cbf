// The rollouts pages. /dashboard/rollouts: every endpoint's rollout, live ones first.
// /dashboard/endpoints/{name}/rollout: one rollout's split, step, gates over time (from
// GET .../rollout/analyses), the candidate vs primary report and the audit trail, with
// promote / roll back / pause / resume for callers allowed to deploy.
import { ready } from "../core/boot.js";
import { listPage } from "./rollouts/list.js";
import { endpointPage } from "./rollouts/page.js";

ready(async (ctx) => {
  if (ctx.params.endpoint) await endpointPage(ctx);
  else await listPage(ctx);
});
