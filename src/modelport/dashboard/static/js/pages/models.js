// The models page: the registry (/dashboard/models) and one model's versions
// (/dashboard/models/{name}): its aliases (where each points, who moved it last, which
// endpoints follow it), versions with tags and archived ones behind a toggle, and per
// version its input schema, output, lineage (parent, trainer, data window, rows and
// labels, holdout metrics against the parent's), reference profile summary and which
// endpoints serve it.
//   GET /v1/models, GET /v1/models/{name}, GET /v1/models/{name}/aliases,
//   GET /v1/models/{name}/versions/{v}?profile=true, GET /v1/endpoints
import { ready } from "../core/boot.js";
import { api } from "../core/api.js";
import { badge, card, fmt, h, kv, replace, showState, table } from "../core/dom.js";
import { live } from "../core/live.js";

const enc = encodeURIComponent;
const modelLink = (name, version) => `/dashboard/models/${enc(name)}${version ? `?version=${version}` : ""}`;
const endpointLink = (name) => `/dashboard/endpoints/${enc(name)}`;
// Fields of a version this page shows in their own place; any other is shown as it is.
const KNOWN = new Set([
  "name", "version", "flavor", "sha256", "created_at", "description", "tags", "target",
  "input_schema", "output", "reference_rows", "has_profile", "profile", "aliases", "archived",
  "archived_at", "archived_by", "lineage",
]);
// Lineage fields the lineage card shows in their own place; others are listed as they are.
const LINEAGE_KNOWN = new Set(["parent", "trainer", "window", "rows", "labels", "fingerprint", "holdout"]);

// --- who serves what ---------------------------------------------------------------------

// model -> version -> [{endpoint, role, share}] from the endpoints' stored policies.
function servingMap(endpoints) {
  const map = new Map();
  const add = (model, version, entry) => {
    if (version === null || version === undefined) return;
    if (!map.has(model)) map.set(model, new Map());
    const versions = map.get(model);
    if (!versions.has(version)) versions.set(version, []);
    versions.get(version).push(entry);
  };
  for (const endpoint of endpoints) {
    const policy = endpoint.policy ?? {};
    const primary = { endpoint: endpoint.name, role: "primary", share: 100, ready: endpoint.ready };
    if (policy.strategy === "canary") {
      const weight = Number(policy.weight ?? 0);
      add(endpoint.model, endpoint.version, { ...primary, share: 100 - weight });
      add(endpoint.model, policy.candidate, { endpoint: endpoint.name, role: "canary", share: weight, ready: endpoint.ready });
    } else {
      add(endpoint.model, endpoint.version, primary);
      if (policy.strategy === "shadow") add(endpoint.model, policy.candidate, { endpoint: endpoint.name, role: "shadow", share: null, ready: endpoint.ready });
      if (policy.strategy === "blue-green") {
        const standby = policy.blue === endpoint.version ? policy.green : policy.blue;
        add(endpoint.model, standby, { endpoint: endpoint.name, role: "standby", share: null, ready: endpoint.ready });
      }
    }
  }
  return map;
}

function servedBy(entries) {
  if (!entries?.length) return h("span", { class: "muted" }, "not served");
  return h(
    "span",
    { class: "served-by" },
    entries.map((entry) =>
      h(
        "a",
        { href: endpointLink(entry.endpoint), class: "served", dataset: { endpoint: entry.endpoint, role: entry.role } },
        badge(`${entry.endpoint} · ${entry.role}${entry.share !== null && entry.share !== 100 ? ` ${fmt.num(entry.share, 3)}%` : ""}`, entry.ready === false ? "bad" : entry.role === "primary" ? "ok" : "info"),
      ),
    ),
  );
}

function stateBox(kind, message) {
  const el = h("div");
  showState(el, kind, message);
  return el;
}

// Re-render a part only when what it shows changed (keeps focus and scroll as they are).
function renderIfChanged(el, value, build) {
  const signature = JSON.stringify(value);
  if (el.dataset.signature === signature) return;
  el.dataset.signature = signature;
  build();
}

// --- the registry ------------------------------------------------------------------------

async function registryPage(root) {
  const box = h("div");
  replace(root, box);
  let shown = false;
  await live(async () => {
    let models;
    let endpoints;
    let details;
    try {
      [{ models }, { endpoints }] = await Promise.all([api("/v1/models"), api("/v1/endpoints")]);
      details = await Promise.all(models.map((m) => api(`/v1/models/${enc(m.name)}`)));
    } catch (error) {
      if (!shown) showState(box, "error", error.message);
      throw error;
    }
    shown = true;
    const serving = servingMap(endpoints);
    renderIfChanged(box, { models, details, endpoints: endpoints.map((e) => [e.name, e.model, e.version, e.policy, e.ready]) }, () => {
      if (!models.length) {
        const state = showState(box, "empty", "No models registered yet. Register one with its reference data:");
        state.appendChild(h("code", { class: "mono" }, "modelport models register NAME model.skops --reference train.parquet --target LABEL"));
        return;
      }
      const rows = models.map((model, index) => {
        const versions = details[index].versions ?? [];
        return { ...model, versions_list: versions, aliases_map: details[index].aliases ?? {}, served: serving.get(model.name) };
      });
      replace(
        box,
        card(
          `${models.length} model${models.length === 1 ? "" : "s"}`,
          h(
            "div",
            { class: "table-wrap" },
            table(
              [
                { key: "name", label: "Model", render: (r) => h("a", { href: modelLink(r.name), dataset: { model: r.name } }, r.name) },
                { key: "versions", label: "Versions", numeric: true },
                { key: "latest", label: "Latest", render: (r) => (r.latest ? `v${r.latest}` : "—") },
                { key: "aliases", label: "Aliases", render: (r) => aliasBadges(r.name, r.aliases_map) },
                { key: "flavor", label: "Flavors", render: (r) => [...new Set(r.versions_list.map((v) => v.flavor))].join(", ") || "—" },
                { key: "created_at", label: "Registered", render: (r) => h("span", { title: r.created_at }, fmt.time(r.created_at)) },
                {
                  key: "served",
                  label: "Served by",
                  render: (r) => {
                    const entries = [...(r.served?.entries() ?? [])].flatMap(([version, list]) => list.map((e) => ({ ...e, version })));
                    if (!entries.length) return h("span", { class: "muted" }, "not served");
                    return h("span", { class: "served-by" }, entries.map((e) => h("a", { href: endpointLink(e.endpoint), class: "served", dataset: { endpoint: e.endpoint } }, badge(`${e.endpoint} · v${e.version} ${e.role}${e.share !== null && e.share !== 100 ? ` ${fmt.num(e.share, 3)}%` : ""}`, e.ready === false ? "bad" : "info"))));
                  },
                },
              ],
              rows,
            ),
          ),
        ),
      );
    });
  });
}

// alias -> version as badges ("champion → v2"), or a muted "none".
function aliasBadges(model, aliases) {
  const entries = Object.entries(aliases ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h(
    "span",
    { class: "aliases" },
    entries.map(([alias, version]) => h("a", { href: modelLink(model, version), class: "alias", dataset: { alias, version } }, badge(`${alias} → v${version}`, "info"))),
  );
}

// --- one model ---------------------------------------------------------------------------

function tagBadges(tags) {
  const entries = Object.entries(tags ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("span", { class: "tags" }, entries.map(([key, value]) => badge(`${key}=${typeof value === "object" ? JSON.stringify(value) : value}`, "muted")));
}

// A link to ``model:version``: on this model's page it selects the version in place.
function versionLink(ref, here, select) {
  const [model, number] = String(ref).split(":");
  const version = Number(number);
  const on = model === here && select ? { click: (event) => { event.preventDefault(); select(version); } } : undefined;
  return h("a", { href: modelLink(model, version), class: "version-link", dataset: { ref }, on }, model === here ? `v${version}` : ref);
}

function aliasesCard(name, aliases, select) {
  let body;
  if (!aliases.length) {
    body = stateBox("info", `No aliases yet. Point one at a version: modelport models alias set ${name} champion N`);
  } else {
    body = h(
      "div",
      { class: "table-wrap" },
      table(
        [
          { key: "alias", label: "Alias", render: (a) => h("span", { class: "mono" }, `${name}@${a.alias}`) },
          { key: "version", label: "Points at", render: (a) => versionLink(`${name}:${a.version}`, name, select) },
          { key: "updated_by", label: "Moved by", render: (a) => a.updated_by || h("span", { class: "muted" }, "unknown") },
          { key: "updated_at", label: "Moved", render: (a) => h("span", { title: a.updated_at }, fmt.time(a.updated_at)) },
          {
            key: "endpoints",
            label: "Followed by",
            render: (a) =>
              a.endpoints?.length
                ? h("span", { class: "served-by" }, a.endpoints.map((e) => h("a", { href: endpointLink(e), class: "served", dataset: { endpoint: e } }, badge(e, "info"))))
                : h("span", { class: "muted" }, "no endpoint"),
          },
        ],
        aliases,
      ),
    );
    markRows(body, aliases, (a) => ({ alias: a.alias }));
  }
  const box = card("Aliases", body);
  box.dataset.card = "aliases";
  return box;
}

// Give each body row of the table in ``el`` data attributes from its row.
function markRows(el, rows, attributes) {
  const trs = el.querySelectorAll("tbody tr");
  rows.forEach((row, index) => {
    if (trs[index]) Object.assign(trs[index].dataset, attributes(row));
  });
}

function windowText(window) {
  if (!window || (!window.start && !window.end)) return h("span", { class: "muted" }, "not recorded");
  return `${window.start ? fmt.time(window.start) : "open"} → ${window.end ? fmt.time(window.end) : "open"}`;
}

// Holdout metrics of the version beside its parent's on the same rows.
function holdoutTable(holdout) {
  const metrics = holdout?.metrics ?? {};
  const parent = holdout?.parent_metrics ?? null;
  const names = [...new Set([...Object.keys(metrics), ...Object.keys(parent ?? {})])].sort();
  if (!names.length) return stateBox("info", "No holdout metrics recorded.");
  const rows = names.map((metric) => {
    const mine = metrics[metric];
    const theirs = parent ? parent[metric] : undefined;
    const change = Number.isFinite(mine) && Number.isFinite(theirs) ? mine - theirs : null;
    return { metric, mine, theirs, change };
  });
  const shown = table(
    [
      { key: "metric", label: "Holdout metric", render: (r) => h("span", { class: "mono" }, r.metric) },
      { key: "mine", label: "This version", numeric: true, render: (r) => fmt.num(r.mine, 4) },
      { key: "theirs", label: "Parent", numeric: true, render: (r) => (parent ? fmt.num(r.theirs, 4) : "—") },
      { key: "change", label: "Change", numeric: true, render: (r) => (r.change === null ? "—" : `${r.change >= 0 ? "+" : ""}${fmt.num(r.change, 3)}`) },
    ],
    rows,
  );
  markRows(shown, rows, (r) => ({ metric: r.metric }));
  return h("div", { class: "table-wrap holdout-table" }, shown);
}

function lineageCard(name, version, select) {
  const lineage = version.lineage && typeof version.lineage === "object" ? version.lineage : {};
  const holdout = lineage.holdout;
  const pairs = [
    ["Parent", lineage.parent ? versionLink(lineage.parent, name, select) : h("span", { class: "muted" }, "none recorded")],
    ["Trainer", lineage.trainer ? h("span", { class: "mono" }, lineage.trainer) : h("span", { class: "muted" }, "not recorded")],
    ["Data window", windowText(lineage.window)],
    ["Rows", fmt.int(lineage.rows)],
    ["Labels", fmt.int(lineage.labels)],
    lineage.fingerprint ? ["Fingerprint", h("span", { class: "mono", title: lineage.fingerprint }, `${String(lineage.fingerprint).slice(0, 23)}…`)] : null,
    holdout ? ["Holdout", `${fmt.int(holdout.rows)} rows${holdout.split ? `, ${holdout.split} split` : ""}`] : null,
  ];
  for (const [key, value] of Object.entries(lineage)) {
    if (!LINEAGE_KNOWN.has(key) && value !== null && value !== undefined) pairs.push([key.replace(/_/g, " "), typeof value === "object" ? h("span", { class: "mono" }, JSON.stringify(value)) : String(value)]);
  }
  const box = card("Lineage", kv(pairs), holdout ? holdoutTable(holdout) : null);
  box.dataset.card = "lineage";
  return box;
}

function schemaTable(version) {
  const features = version.input_schema?.features ?? [];
  if (!features.length) return stateBox("info", "This version declares no input schema.");
  return table(
    [
      { key: "name", label: "Feature", render: (f) => h("span", { class: "mono" }, f.name) },
      { key: "kind", label: "Type" },
      { key: "nullable", label: "Nullable", render: (f) => (f.nullable ? "yes" : "no") },
      {
        key: "values",
        label: "Allowed values",
        render: (f) => {
          if (f.categories?.length) {
            const shown = f.categories.slice(0, 8).join(", ");
            return `${shown}${f.categories.length > 8 ? ` … (${f.categories.length})` : ""}${f.allow_unknown ? "; others allowed" : ""}`;
          }
          if (f.minimum !== null || f.maximum !== null) return `${fmt.num(f.minimum)} … ${fmt.num(f.maximum)}`;
          return h("span", { class: "muted" }, "any");
        },
      },
    ],
    features,
  );
}

function outputPairs(version) {
  const output = version.output ?? {};
  return [
    ["Kind", output.kind ?? "—"],
    output.classes?.length ? ["Classes", output.classes.join(", ")] : null,
    ["Probabilities", output.has_probabilities ? "yes" : "no"],
    ["Target column", version.target ?? "—"],
  ];
}

function identityPairs(version) {
  const pairs = [
    ["Registered", h("span", { title: version.created_at }, fmt.time(version.created_at))],
    ["Flavor", version.flavor],
    ["Artifact sha256", h("span", { class: "mono", title: version.sha256 }, `${String(version.sha256 ?? "").slice(0, 16)}…`)],
    ["Description", version.description || h("span", { class: "muted" }, "none")],
  ];
  pairs.push(["Tags", tagBadges(version.tags)]);
  if (version.archived) pairs.push(["Archived", `${fmt.time(version.archived_at)}${version.archived_by ? ` by ${version.archived_by}` : ""}`]);
  for (const [key, value] of Object.entries(version)) {
    if (!KNOWN.has(key) && value !== null && value !== undefined) pairs.push([key.replace(/_/g, " "), typeof value === "object" ? h("span", { class: "mono" }, JSON.stringify(value)) : String(value)]);
  }
  return pairs;
}

function profileCard(version, profile) {
  if (!version.has_profile) {
    return card(
      "Reference profile",
      stateBox("broken", "No reference profile: this version was registered without reference data, so its drift and data quality cannot be monitored. Register it again with --reference."),
    );
  }
  if (profile instanceof Error) return card("Reference profile", stateBox("error", profile.message));
  if (!profile) return card("Reference profile", stateBox("loading", ""));
  const features = Object.entries(profile.features ?? {}).map(([name, f]) => ({ name, ...f }));
  const top = (f) =>
    Object.entries(f.frequencies ?? {})
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([value, count]) => `${value} ${fmt.pct(count / Math.max(f.count || 1, 1), 0)}`)
      .join(", ");
  return card(
    "Reference profile",
    kv([
      ["Rows", fmt.int(profile.n_rows ?? version.reference_rows)],
      ["Features", fmt.int(features.length)],
      ["Bins per numeric feature", fmt.int(profile.n_bins)],
      profile.prediction?.frequencies && Object.keys(profile.prediction.frequencies).length ? ["Predicted classes", top(profile.prediction)] : null,
    ]),
    h(
      "div",
      { class: "table-wrap profile-table" },
      table(
        [
          { key: "name", label: "Feature", render: (f) => h("span", { class: "mono" }, f.name) },
          { key: "kind", label: "Kind" },
          { key: "missing_rate", label: "Missing", numeric: true, render: (f) => fmt.pct(f.missing_rate) },
          { key: "mean", label: "Mean", numeric: true, render: (f) => fmt.num(f.mean) },
          { key: "std", label: "Std", numeric: true, render: (f) => fmt.num(f.std) },
          { key: "minimum", label: "Min", numeric: true, render: (f) => fmt.num(f.minimum) },
          { key: "maximum", label: "Max", numeric: true, render: (f) => fmt.num(f.maximum) },
          { key: "top", label: "Top categories", render: (f) => top(f) || "—" },
        ],
        features,
      ),
    ),
  );
}

async function modelPage(root, name, ctx) {
  const aliasesBox = h("div");
  const versionsBox = h("div");
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Versions" });
  const panel = h("div", { role: "tabpanel", id: "version-panel" });
  replace(root, aliasesBox, versionsBox, tabs, panel);
  const profiles = new Map(); // version -> profile (versions are immutable once registered)
  let model = null;
  let versions = [];
  let aliases = [];
  let serving = new Map();
  let selected = Number(new URLSearchParams(window.location.search).get("version")) || null;
  // Archived versions are hidden unless asked for (or the address names one).
  let showArchived = false;
  let first = true;

  const visible = () => versions.filter((v) => showArchived || !v.archived || v.version === selected);

  const select = (number) => {
    selected = number;
    const url = new URL(window.location.href);
    url.searchParams.set("version", String(number));
    window.history.replaceState(null, "", url);
    if (versions.find((v) => v.version === number)?.archived) showArchived = true;
    drawVersions();
    drawTabs();
    showVersion();
  };

  const toggleArchived = (show) => {
    showArchived = show;
    const hidden = versions.find((v) => v.version === selected)?.archived;
    const newest = versions.find((v) => !v.archived);
    // Hiding the archived version on show moves to the newest one that is not.
    if (!show && hidden && newest) selected = newest.version;
    select(selected);
  };

  const drawVersions = () => {
    const archived = versions.filter((v) => v.archived).length;
    const shown = versions.filter((v) => showArchived || !v.archived);
    renderIfChanged(versionsBox, { versions, served: [...serving.entries()], showArchived }, () => {
      const toggle = archived
        ? h(
            "label",
            { class: "archived-toggle" },
            h("input", { type: "checkbox", id: "show-archived", checked: showArchived, on: { change: (event) => toggleArchived(event.target.checked) } }),
            ` Show archived (${archived})`,
          )
        : null;
      const grid = table(
        [
          {
            key: "version",
            label: "Version",
            render: (v) => [
              h("a", { href: modelLink(name, v.version), dataset: { version: v.version }, on: { click: (event) => { event.preventDefault(); select(v.version); } } }, `v${v.version}`),
              v.archived ? [" ", h("span", { title: `archived ${fmt.time(v.archived_at)}${v.archived_by ? ` by ${v.archived_by}` : ""}` }, badge("archived", "warn"))] : null,
            ],
          },
          { key: "flavor", label: "Flavor" },
          { key: "created_at", label: "Registered", render: (v) => h("span", { title: v.created_at }, fmt.time(v.created_at)) },
          { key: "features", label: "Inputs", numeric: true, render: (v) => fmt.int(v.input_schema?.features?.length ?? 0) },
          { key: "output", label: "Output", render: (v) => v.output?.kind ?? "—" },
          { key: "reference_rows", label: "Reference rows", numeric: true, render: (v) => (v.has_profile ? fmt.int(v.reference_rows) : badge("no profile", "warn")) },
          { key: "aliases", label: "Aliases", render: (v) => (v.aliases?.length ? h("span", { class: "aliases" }, v.aliases.map((a) => badge(`@${a}`, "info"))) : "") },
          { key: "tags", label: "Tags", render: (v) => tagBadges(v.tags) },
          { key: "parent", label: "Parent", render: (v) => (v.lineage?.parent ? versionLink(v.lineage.parent, name, select) : "") },
          { key: "served", label: "Served by", render: (v) => servedBy(serving.get(v.version)) },
        ],
        shown,
      );
      markRows(grid, shown, (v) => ({ version: v.version, archived: String(Boolean(v.archived)) }));
      replace(versionsBox, card("Versions", toggle, h("div", { class: "table-wrap" }, grid)));
    });
  };

  const drawTabs = () => {
    const numbers = visible().map((v) => v.version);
    renderIfChanged(tabs, numbers, () =>
      replace(
        tabs,
        numbers.map((number) =>
          h("button", { type: "button", role: "tab", "aria-selected": String(number === selected), "aria-controls": "version-panel", dataset: { version: number }, on: { click: () => select(number) } }, `v${number}`),
        ),
      ),
    );
    for (const button of tabs.querySelectorAll("button")) button.setAttribute("aria-selected", String(Number(button.dataset.version) === selected));
  };

  const showVersion = async () => {
    const version = versions.find((v) => v.version === selected);
    if (!version) {
      showState(panel, "error", `${name} has no version ${selected}.`);
      return;
    }
    panel.setAttribute("aria-label", `Version ${version.version}`);
    const draw = () =>
      renderIfChanged(panel, { version, profile: profiles.get(version.version) instanceof Error ? String(profiles.get(version.version)) : Boolean(profiles.get(version.version)), served: serving.get(version.version) }, () => {
        const output = card("Output", kv([...outputPairs(version), ...identityPairs(version)]));
        output.dataset.card = "output";
        replace(
          panel,
          h(
            "div",
            { class: "version-head", dataset: { version: version.version, archived: String(Boolean(version.archived)) } },
            h("h2", {}, `${name} v${version.version}`),
            badge(version.flavor, "muted"),
            version.archived ? badge("archived: never served", "warn") : null,
            (version.aliases ?? []).map((a) => h("span", { class: "alias" }, badge(`${name}@${a}`, "info"))),
            servedBy(serving.get(version.version)),
          ),
          h("div", { class: "grid-2" }, card("Input schema", h("div", { class: "table-wrap" }, schemaTable(version))), output),
          lineageCard(name, version, select),
          profileCard(version, profiles.get(version.version)),
        );
      });
    draw();
    if (version.has_profile && !profiles.has(version.version)) {
      try {
        const full = await api(`/v1/models/${enc(name)}/versions/${version.version}`, { query: { profile: "true" } });
        profiles.set(version.version, full.profile ?? null);
      } catch (error) {
        profiles.set(version.version, error);
      }
      if (selected === version.version) draw();
    }
  };

  let missing = false;
  await live(async () => {
    // A model that is not registered stays so: say it once, stop asking.
    if (missing) return;
    let detail;
    let endpoints;
    let listed;
    try {
      [detail, { endpoints }, listed] = await Promise.all([api(`/v1/models/${enc(name)}`), api("/v1/endpoints"), api(`/v1/models/${enc(name)}/aliases`)]);
    } catch (error) {
      // Before the first answer the page says why; later the live status does.
      if (!model) showState(root, "error", error.message);
      missing = !model && error.status === 404;
      throw error;
    }
    model = detail;
    aliases = listed.aliases ?? [];
    serving = servingMap(endpoints).get(name) ?? new Map();
    versions = [...(model.versions ?? [])].sort((a, b) => b.version - a.version);
    renderIfChanged(aliasesBox, aliases, () => replace(aliasesBox, aliasesCard(name, aliases, select)));
    if (!versions.length) {
      showState(versionsBox, "empty", `${name} has no versions yet.`);
      return;
    }
    if (first) {
      first = false;
      if (versions.find((v) => v.version === selected)?.archived) showArchived = true;
    }
    if (!versions.some((v) => v.version === selected)) selected = (versions.find((v) => !v.archived) ?? versions[0]).version;
    drawVersions();
    drawTabs();
    await showVersion();
  });
}

ready(async (ctx) => {
  const root = document.getElementById("page");
  if (ctx.params.model) await modelPage(root, ctx.params.model, ctx);
  else await registryPage(root);
});
