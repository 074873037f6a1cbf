// The predictions page: an endpoint's newest logged predictions, filtered by version, role,
// status and label, each row with its inputs, output, latency and label once it arrived.
//   GET /v1/endpoints, GET /v1/models/{model}, GET /v1/endpoints/{name}/predictions
// On /dashboard/predictions the endpoint is chosen in a select (kept in ?endpoint=); on
// /dashboard/endpoints/{name}/predictions it is the page's. Filters are kept in the URL.
import { ready } from "../core/boot.js";
import { api } from "../core/api.js";
import { badge, fmt, h, replace, showState } from "../core/dom.js";
import { live } from "../core/live.js";

const FILTERS = ["version", "role", "status", "labelled", "limit"];
// Up to this many inputs get a column each; more are folded into one cell.
const INPUT_COLUMNS = 5;
const enc = encodeURIComponent;

function shortText(value, size = 24) {
  const text = String(value);
  if (/^[0-9a-f]{64}$/.test(text)) return h("span", { class: "mono", title: text }, `${text.slice(0, 10)}…`);
  if (text.length <= size) return text;
  return h("span", { title: text }, `${text.slice(0, size - 1)}…`);
}

function inputValue(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "null");
  if (typeof value === "number") return fmt.num(value, 4);
  return shortText(value);
}

function outputCell(row) {
  if (row.status === "error") {
    return h("span", { class: "error", title: row.error ?? "" }, shortText(row.error ?? "failed", 48));
  }
  const output = row.output;
  if (!output) return h("span", { class: "muted" }, "—");
  const prediction = output.prediction;
  const probabilities = output.probabilities ?? {};
  const shown = typeof prediction === "number" ? fmt.num(prediction, 4) : shortText(prediction ?? "—");
  const own = typeof prediction === "string" ? probabilities[prediction] : undefined;
  const title = Object.entries(probabilities)
    .map(([label, p]) => `${label}: ${fmt.num(p, 3)}`)
    .join("\n");
  return h(
    "span",
    { class: "output", title: title || null },
    h("strong", {}, shown),
    own !== undefined ? h("span", { class: "muted" }, ` p=${fmt.num(own, 2)}`) : null,
  );
}

function labelCell(row) {
  if (row.label === null || row.label === undefined) return h("span", { class: "muted" }, "—");
  const prediction = row.output?.prediction;
  const comparable = row.status === "ok" && typeof prediction === "string";
  return h(
    "span",
    { class: "label-cell", title: `received ${fmt.time(row.label_received_at)}` },
    typeof row.label === "number" ? fmt.num(row.label, 4) : shortText(row.label),
    comparable ? [" ", String(row.label) === prediction ? badge("correct", "ok") : badge("wrong", "bad")] : null,
    h("span", { class: "muted label-ago" }, ` ${fmt.ago(row.label_received_at)}`),
  );
}

function inputsCell(inputs, features) {
  const pairs = features.filter((name) => name in inputs);
  const head = pairs.slice(0, 3);
  const rest = pairs.slice(3);
  const item = (name) => h("span", { class: "kv-pair" }, h("span", { class: "muted" }, `${name}=`), inputValue(inputs[name]));
  return h(
    "div",
    { class: "inputs" },
    head.map(item),
    rest.length
      ? h(
          "details",
          {},
          h("summary", {}, `+${rest.length} more`),
          h("dl", { class: "kv" }, rest.map((name) => [h("dt", { class: "mono" }, name), h("dd", {}, inputValue(inputs[name]))])),
        )
      : null,
  );
}

function rowsTable(body) {
  const features = body.features ?? [];
  const split = features.length <= INPUT_COLUMNS;
  const columns = [
    { label: "Time", render: (r) => h("span", { title: `${r.ts} (${fmt.ago(r.ts)})` }, fmt.time(r.ts)) },
    {
      label: "Request",
      render: (r) => h("span", { class: "mono", title: `request ${r.request_id}, row ${r.row}` }, shortText(r.request_id, 14), h("span", { class: "muted" }, `#${r.row}`)),
    },
    { label: "Version", render: (r) => `v${r.version}` },
    { label: "Role", render: (r) => r.role },
    { label: "Status", render: (r) => badge(r.status, r.status === "ok" ? "ok" : "bad") },
    { label: "Latency", numeric: true, render: (r) => fmt.ms(r.latency_ms) },
    ...(split
      ? features.map((name) => ({ label: name, mono: true, numeric: false, render: (r) => inputValue(r.inputs?.[name]) }))
      : [{ label: "Inputs", render: (r) => inputsCell(r.inputs ?? {}, features) }]),
    { label: "Output", render: outputCell },
    { label: "Label", render: labelCell },
  ];
  return h(
    "table",
    { class: "grid predictions" },
    h("caption", { class: "sr-only" }, `Newest predictions of ${body.endpoint}, newest first`),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", class: [c.numeric ? "num" : null, c.mono ? "mono" : null].filter(Boolean).join(" ") || null }, c.label)))),
    h(
      "tbody",
      {},
      body.predictions.map((r) =>
        h(
          "tr",
          {
            dataset: {
              requestId: r.request_id,
              row: r.row,
              version: r.version,
              role: r.role,
              status: r.status,
              labelled: r.label === null || r.label === undefined ? "0" : "1",
            },
          },
          columns.map((c) => h("td", { class: c.numeric ? "num" : null }, c.render(r) ?? "—")),
        ),
      ),
    ),
  );
}

function readFilters() {
  const query = new URLSearchParams(window.location.search);
  const filters = {};
  for (const key of FILTERS) filters[key] = query.get(key) ?? "";
  return { endpoint: query.get("endpoint") ?? "", filters };
}

function writeUrl(endpoint, filters, fixed) {
  const url = new URL(window.location.href);
  if (!fixed) {
    if (endpoint) url.searchParams.set("endpoint", endpoint);
    else url.searchParams.delete("endpoint");
  }
  for (const key of FILTERS) {
    if (filters[key] && !(key === "limit" && filters[key] === "50")) url.searchParams.set(key, filters[key]);
    else url.searchParams.delete(key);
  }
  window.history.replaceState(null, "", url);
}

function setOptions(select, options, value) {
  const wanted = JSON.stringify(options);
  if (select.dataset.options !== wanted) {
    select.dataset.options = wanted;
    replace(select, options.map(([optionValue, label]) => h("option", { value: optionValue }, label)));
  }
  select.value = value;
  if (select.value !== value && options.length) select.value = options[0][0];
}

ready(async (ctx) => {
  const fixed = ctx.params.endpoint ?? null;
  const root = document.getElementById("page");
  const form = document.getElementById("filters");
  const controls = Object.fromEntries(["endpoint", ...FILTERS].map((key) => [key, document.getElementById(`f-${key}`)]));
  const summary = h("p", { class: "muted predictions-summary", role: "status" });
  const wrap = h("div", { class: "table-wrap" });
  const chosen = readFilters();
  let endpoint = fixed ?? chosen.endpoint;
  const filters = chosen.filters;
  if (!filters.limit) filters.limit = "50";
  for (const key of FILTERS) if (filters[key]) controls[key].value = filters[key];
  let poller = null;
  let shown = false;

  form.addEventListener("submit", (event) => event.preventDefault());
  controls.endpoint.addEventListener("change", () => {
    if (fixed) {
      // This page belongs to one endpoint: go to the other's.
      const query = new URLSearchParams(window.location.search);
      const search = query.toString();
      window.location.assign(`/dashboard/endpoints/${enc(controls.endpoint.value)}/predictions${search ? `?${search}` : ""}`);
      return;
    }
    endpoint = controls.endpoint.value;
    filters.version = "";
    controls.version.value = "";
    writeUrl(endpoint, filters, fixed);
    poller?.now();
  });
  for (const key of FILTERS) {
    controls[key].addEventListener("change", () => {
      filters[key] = controls[key].value;
      writeUrl(endpoint, filters, fixed);
      poller?.now();
    });
  }

  const refresh = async () => {
    const { endpoints } = await api("/v1/endpoints");
    // Filters without an endpoint to filter would only confuse.
    form.hidden = !endpoints.length;
    if (!endpoints.length) {
      setOptions(controls.endpoint, [], "");
      const box = showState(root, "empty", "No endpoints yet. Create one from a registered model:");
      box.appendChild(h("code", { class: "mono" }, "modelport endpoints create NAME --model MODEL:VERSION"));
      return;
    }
    const names = endpoints.map((e) => e.name);
    if (!fixed && !names.includes(endpoint)) endpoint = names[0];
    setOptions(controls.endpoint, (fixed && !names.includes(fixed) ? [fixed, ...names] : names).map((n) => [n, n]), endpoint);
    const current = endpoints.find((e) => e.name === endpoint);
    if (!current) {
      showState(root, "error", `endpoint '${endpoint}' does not exist`);
      return;
    }
    const model = await api(`/v1/models/${enc(current.model)}`);
    const versions = (model.versions ?? []).map((v) => v.version).sort((a, b) => b - a);
    setOptions(controls.version, [["", "any"], ...versions.map((v) => [String(v), `v${v}`])], filters.version);
    const query = { ...filters };
    const body = await api(`/v1/endpoints/${enc(endpoint)}/predictions`, { query });
    const filtered = ["version", "role", "status", "labelled"].some((key) => filters[key]);
    if (!shown || !root.contains(wrap)) replace(root, summary, wrap);
    shown = true;
    const rows = body.predictions.length;
    replace(
      summary,
      rows ? `${rows} newest row${rows === 1 ? "" : "s"}${filtered ? " matching the filters" : ""}, newest first` : "",
      filtered && !body.exhausted && rows < body.limit ? ` · searched the newest ${fmt.int(body.scanned)} logged rows` : "",
      body.skipped_segments ? [" ", badge(`${body.skipped_segments} unreadable log file${body.skipped_segments === 1 ? "" : "s"} skipped`, "warn")] : null,
    );
    const signature = JSON.stringify(body);
    if (wrap.dataset.signature === signature) return;
    wrap.dataset.signature = signature;
    if (!rows) {
      if (filtered) showState(wrap, "info", `No predictions of ${endpoint} match these filters.`);
      else showState(wrap, "empty", `No predictions logged for ${endpoint} yet.`);
      return;
    }
    replace(wrap, rowsTable(body));
  };

  poller = await live(async () => {
    try {
      await refresh();
    } catch (error) {
      // Before the first rows arrive the page says why; later the live status does.
      if (!shown) showState(root, "error", error.message);
      throw error;
    }
  });
});
