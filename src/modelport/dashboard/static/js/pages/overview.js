// The overview page: every endpoint at a glance, one card each, refreshed in place.
//   GET /v1/endpoints                          versions live and the traffic split
//   GET /v1/alerts/active                      firing alerts (by their endpoint label)
//   GET /v1/endpoints/{name}/rollout           phase, step and each gate's last verdict
//   GET /v1/endpoints/{name}/service?since=24h request rate, error rate, p99 (sparklines)
//   GET /v1/endpoints/{name}/monitoring/live   drifted features of the current window
import { ready } from "../core/boot.js";
import { api } from "../core/api.js";
import { badge, fmt, h, replace, showState } from "../core/dom.js";
import { live } from "../core/live.js";
import { sparkline } from "../core/charts.js";

// Requests per second, or per minute or hour when that reads better ("3.2/h", not "0.0/min").
export function rateText(perSecond) {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(Number(perSecond))) return "—";
  const value = Number(perSecond);
  if (value === 0 || value >= 1) return fmt.rate(value);
  if (value * 60 >= 1) return `${fmt.num(value * 60, 2)}/min`;
  return `${fmt.num(value * 3600, 2)}/h`;
}

const SPARKS = [
  { key: "rate", label: "Request rate", format: rateText },
  { key: "error_rate", label: "Error rate", format: (v) => fmt.pct(v) },
  { key: "p99_ms", label: "p99 latency", format: (v) => fmt.ms(v) },
];
const VERDICT_TONES = { pass: "ok", fail: "bad", inconclusive: "muted", skipped: "muted" };

const endpointLink = (name) => `/dashboard/endpoints/${encodeURIComponent(name)}`;
const enc = encodeURIComponent;

// --- what an endpoint serves -------------------------------------------------------------

// [{version, role, share}] from the endpoint's stored policy ("share" null: copies only).
export function trafficSplit(endpoint) {
  const policy = endpoint.policy ?? {};
  const primary = endpoint.version;
  switch (policy.strategy) {
    case "canary": {
      const weight = Number(policy.weight ?? 0);
      return [
        { version: primary, role: "primary", share: 100 - weight },
        { version: policy.candidate, role: "canary", share: weight },
      ];
    }
    case "shadow":
      return [
        { version: primary, role: "primary", share: 100 },
        { version: policy.candidate, role: "shadow", share: null, sample: policy.sample },
      ];
    case "blue-green": {
      const standby = policy.blue === primary ? policy.green : policy.blue;
      return [
        { version: primary, role: "primary", share: 100 },
        { version: standby, role: "standby", share: null },
      ];
    }
    default:
      return [{ version: primary, role: "primary", share: 100 }];
  }
}

function splitText(endpoint) {
  return trafficSplit(endpoint)
    .map((part) => {
      if (part.share !== null) return `v${part.version} ${fmt.num(part.share, 3)}%${part.role === "primary" ? "" : ` (${part.role})`}`;
      if (part.role === "shadow") return `v${part.version} shadow (${fmt.pct(part.sample ?? 1, 0)} copied)`;
      return `v${part.version} ${part.role}`;
    })
    .join(" · ");
}

// A pipeline's card names its steps, each a link to its own endpoint (where it is
// monitored and rolled out); a step's card names its pipeline.
function pipelineLine(endpoint) {
  const steps = endpoint.pipeline.steps ?? [];
  const parts = [h("span", { class: "muted" }, "pipeline · ")];
  steps.forEach((step, index) => {
    if (index) parts.push(" → ");
    parts.push(h("a", { href: endpointLink(`${endpoint.name}.${step.name}`), dataset: { step: step.name } }, step.name));
  });
  return parts;
}

function stepOf(endpoint) {
  if (!endpoint.part_of) return null;
  return h("span", { class: "muted" }, " · step of ", h("a", { href: endpointLink(endpoint.part_of) }, endpoint.part_of));
}

// --- one card per endpoint ---------------------------------------------------------------

class EndpointCard {
  constructor(name) {
    this.name = name;
    this.charts = {};
    this.head = h("h2", {}, h("a", { href: endpointLink(name) }, name));
    this.status = h("div", { class: "ep-status" });
    this.split = h("p", { class: "ep-split" });
    this.rollout = h("div", { class: "ep-rollout" });
    this.figures = h("div", { class: "figures ep-figures" });
    this.sparkBoxes = {};
    const sparks = h(
      "div",
      { class: "ep-sparks" },
      SPARKS.map((spark) => {
        const box = h("div", { class: "chart-sm", dataset: { spark: spark.key }, role: "img", "aria-label": `${spark.label}, last 24 h` });
        this.sparkBoxes[spark.key] = box;
        return h("div", { class: "ep-spark" }, h("span", { class: "label" }, `${spark.label} · 24 h`), box);
      }),
    );
    this.sparkArea = h("div", { class: "ep-spark-area" }, sparks);
    this.el = h(
      "article",
      { class: "card endpoint-card", dataset: { endpoint: name }, "aria-label": `Endpoint ${name}` },
      this.head,
      this.status,
      this.split,
      this.rollout,
      this.figures,
      this.sparkArea,
      h("p", { class: "ep-links" }, h("a", { href: endpointLink(name) }, "Endpoint page"), " · ", h("a", { href: `${endpointLink(name)}/predictions` }, "Predictions")),
    );
    this.sparks = sparks;
  }

  update(endpoint, details, firing) {
    replace(
      this.head,
      h("a", { href: endpointLink(endpoint.name) }, endpoint.name),
      endpoint.ready ? badge("ready", "ok") : badge("not serving", "bad"),
      firing.length ? badge(`${firing.length} firing`, "bad") : null,
    );
    if (!endpoint.ready) {
      showState(this.status, "broken", `The model failed to load: ${endpoint.error ?? "unknown error"}`);
    } else {
      replace(this.status);
    }
    if (endpoint.pipeline) replace(this.split, ...pipelineLine(endpoint));
    else replace(this.split, h("span", { class: "muted" }, `${endpoint.model} · `), splitText(endpoint), stepOf(endpoint));
    this.showRollout(endpoint, details.rollout);
    if (endpoint.pipeline) {
      // Its requests, latency and drift are its steps': each step's card has them.
      replace(this.figures);
      this.disposeCharts();
      showState(this.sparkArea, "empty", "Each step is served, measured and monitored on its own card.");
      return;
    }
    this.showFigures(details, firing);
    this.showSparks(details.service);
  }

  showRollout(endpoint, answer) {
    if (answer instanceof Error) {
      showState(this.rollout, "error", `Rollout: ${answer.message}`);
      return;
    }
    const rollout = answer?.rollout;
    if (!rollout) {
      replace(this.rollout);
      return;
    }
    const steps = rollout.steps ?? [];
    const step = steps.length ? `step ${Math.min(rollout.step + 1, steps.length)} of ${steps.length} at ${fmt.num(rollout.weight, 3)}%` : "";
    const gates = rollout.verdicts?.gates ?? [];
    replace(
      this.rollout,
      h(
        "p",
        { class: "ep-rollout-line" },
        h("a", { href: `${endpointLink(endpoint.name)}/rollout` }, `Rollout #${rollout.id}`),
        ` v${rollout.primary} → v${rollout.candidate} · ${rollout.strategy} · `,
        badge(rollout.phase, "info"),
        step ? ` ${step}` : null,
        rollout.status !== "active" ? [" ", badge(rollout.status, "muted")] : null,
      ),
      gates.length
        ? h(
            "ul",
            { class: "ep-gates", "aria-label": "Gates, last verdict" },
            gates.map((gate) =>
              h(
                "li",
                { dataset: { gate: gate.gate, verdict: gate.verdict }, title: gate.reason || null },
                badge(gate.verdict, VERDICT_TONES[gate.verdict] ?? "warn"),
                h("span", { class: "mono" }, gate.gate),
              ),
            ),
          )
        : null,
    );
  }

  showFigures(details, firing) {
    const totals = details.service instanceof Error ? null : details.service?.totals;
    const drift = driftSummary(details.live, this.primaryVersion);
    replace(
      this.figures,
      figure("Requests · 24 h", fmt.int(totals?.requests), "requests"),
      figure("Request rate", rateText(totals?.rate), "rate"),
      figure("Error rate", fmt.pct(totals?.error_rate), "error-rate"),
      figure("p99 latency", fmt.ms(totals?.p99_ms), "p99"),
      figure(drift.label, drift.text, "drifted", drift.title),
      figure("Firing alerts", String(firing.length), "alerts", firing.map(alertText).join("\n") || null),
    );
  }

  showSparks(service) {
    if (service instanceof Error) {
      this.disposeCharts();
      showState(this.sparkArea, "error", `Service figures: ${service.message}`);
      return;
    }
    const buckets = service?.buckets ?? [];
    if (!service?.totals?.requests) {
      this.disposeCharts();
      showState(this.sparkArea, "empty", "No requests in the last 24 h.");
      return;
    }
    if (!this.sparkArea.contains(this.sparks)) replace(this.sparkArea, this.sparks);
    for (const spark of SPARKS) {
      const points = buckets.map((b) => [b.start, b[spark.key] ?? null]);
      const box = this.sparkBoxes[spark.key];
      if (this.charts[spark.key]) this.charts[spark.key].update(points);
      else this.charts[spark.key] = sparkline(box, points);
      markIsolated(this.charts[spark.key], points);
      const last = [...buckets].reverse().find((b) => b[spark.key] !== null && b[spark.key] !== undefined);
      box.title = `${spark.label}, last 24 h (latest ${spark.format(last?.[spark.key])})`;
    }
  }

  disposeCharts() {
    for (const chart of Object.values(this.charts)) chart.dispose();
    this.charts = {};
  }
}

// A value with no neighbour (one busy bucket among empty ones) draws no line: show it as
// a dot. The core sparkline draws lines only.
function markIsolated(chart, points) {
  const present = (i) => i >= 0 && i < points.length && points[i][1] !== null;
  const isolated = points.some((_, i) => present(i) && !present(i - 1) && !present(i + 1));
  chart.instance?.setOption({ series: [{ showSymbol: isolated, symbolSize: 4 }] });
}

function figure(label, value, key, title = null) {
  return h("div", { class: "figure", dataset: { figure: key }, title }, h("span", { class: "value" }, value), h("span", { class: "label" }, label));
}

// Drifted features of the primary's current live window: "d of n", or "d of j judged"
// while some features still wait for enough rows (named in the title).
export function driftSummary(answer, version) {
  if (answer instanceof Error) return { text: "—", label: "Drifted features", title: answer.message };
  const windows = answer?.windows ?? [];
  const window = windows.find((w) => w.version === version) ?? windows[0];
  const summary = window?.summary;
  if (!summary) return { text: "—", label: "Drifted features", title: "No monitoring window yet" };
  const names = summary.drifted_features ?? [];
  const waiting = summary.not_enough_data ?? [];
  const title = [
    `Current window of v${window.version}: ${fmt.int(window.rows)} rows`,
    names.length ? `Drifted: ${names.join(", ")}` : "No drifted feature",
    waiting.length ? `Not enough data yet: ${waiting.join(", ")}` : null,
  ]
    .filter(Boolean)
    .join("\n");
  if (waiting.length) {
    const text = summary.judged ? `${summary.drifted} of ${summary.judged}` : "—";
    return { text, label: `Drifted · ${waiting.length} wait for data`, title };
  }
  return { text: `${summary.drifted} of ${summary.features}`, label: "Drifted features", title };
}

function alertText(alert) {
  const labels = Object.entries(alert.labels ?? {})
    .filter(([key]) => key !== "endpoint")
    .map(([key, value]) => `${key}=${value}`)
    .join(", ");
  return `${alert.rule}${labels ? ` (${labels})` : ""}: ${fmt.num(alert.value)}`;
}

// --- the page ----------------------------------------------------------------------------

async function settle(promise) {
  try {
    return await promise;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function detailsOf(endpoint) {
  const name = enc(endpoint.name);
  const [rollout, service, liveWindow] = await Promise.all([
    settle(api(`/v1/endpoints/${name}/rollout`)),
    settle(api(`/v1/endpoints/${name}/service`, { query: { since: "24h" } })),
    settle(api(`/v1/endpoints/${name}/monitoring/live`, { query: { empty: 1 } })),
  ]);
  return { rollout, service, live: liveWindow };
}

function showFiring(el, alerts) {
  const firing = alerts.filter((a) => a.state === "firing");
  if (!firing.length) {
    replace(el);
    return;
  }
  replace(
    el,
    h(
      "section",
      { class: "card firing", "aria-label": "Firing alerts" },
      h("h2", {}, badge(`${firing.length} firing`, "bad"), h("a", { href: "/dashboard/alerts" }, "Alerts")),
      h(
        "ul",
        {},
        firing.map((alert) => {
          const endpoint = alert.labels?.endpoint;
          return h(
            "li",
            { dataset: { rule: alert.rule } },
            endpoint ? h("a", { href: endpointLink(endpoint) }, endpoint) : null,
            endpoint ? " · " : null,
            alertText(alert),
            alert.silenced ? [" ", badge("silenced", "muted")] : null,
            h("span", { class: "muted" }, ` since ${fmt.ago(alert.since)}`),
          );
        }),
      ),
    ),
  );
}

ready(async () => {
  const list = document.getElementById("endpoints");
  const firingBox = document.getElementById("firing");
  const summary = document.getElementById("overview-summary");
  const cards = new Map();

  const refresh = async () => {
    const [{ endpoints }, active] = await Promise.all([api("/v1/endpoints"), api("/v1/alerts/active")]);
    const alerts = active.alerts ?? [];
    showFiring(firingBox, alerts);
    const firing = alerts.filter((a) => a.state === "firing");
    summary.textContent = `${endpoints.length} endpoint${endpoints.length === 1 ? "" : "s"} · ${firing.length} firing alert${firing.length === 1 ? "" : "s"}`;
    if (!endpoints.length) {
      for (const card of cards.values()) card.disposeCharts();
      cards.clear();
      list.classList.remove("cards");
      const box = showState(list, "empty", "No endpoints yet. Create one from a registered model:");
      box.appendChild(h("code", { class: "mono" }, "modelport endpoints create NAME --model MODEL:VERSION"));
      return;
    }
    list.classList.add("cards");
    const details = await Promise.all(endpoints.map(detailsOf));
    const seen = new Set();
    const order = [];
    endpoints.forEach((endpoint, index) => {
      seen.add(endpoint.name);
      let card = cards.get(endpoint.name);
      if (!card) {
        card = new EndpointCard(endpoint.name);
        cards.set(endpoint.name, card);
      }
      card.primaryVersion = endpoint.version;
      order.push(card.el);
      // A card is placed before its charts draw, so each chart knows its width.
      if (card.el.parentNode !== list) {
        list.querySelector(":scope > .state")?.remove();
        list.appendChild(card.el);
      }
      card.update(
        endpoint,
        details[index],
        firing.filter((a) => a.labels?.endpoint === endpoint.name),
      );
    });
    for (const [name, card] of cards) {
      if (!seen.has(name)) {
        card.disposeCharts();
        card.el.remove();
        cards.delete(name);
      }
    }
    // Keep the API's order (by name), moving cards only when it changed.
    list.querySelector(":scope > .state")?.remove();
    if (order.some((el, index) => list.children[index] !== el)) order.forEach((el) => list.appendChild(el));
  };

  await live(async () => {
    try {
      await refresh();
    } catch (error) {
      // Before the first figures arrive the page says why; later the live status does.
      if (!cards.size) showState(list, "error", error.message);
      throw error;
    }
  });
});
