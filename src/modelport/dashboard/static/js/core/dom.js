// Building the page safely: every value becomes text (never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const DASH = "—";

function finite(value) {
  return value !== null && value !== undefined && Number.isFinite(Number(value));
}

function pad(n) {
  return String(n).padStart(2, "0");
}

export const fmt = {
  num(value, digits = 3) {
    if (!finite(value)) return DASH;
    const n = Number(value);
    if (n !== 0 && (Math.abs(n) >= 1e6 || Math.abs(n) < 10 ** -digits)) return n.toExponential(2);
    return Number(n.toPrecision(Math.max(digits, 1))).toLocaleString("en-US", {
      maximumFractionDigits: 6,
    });
  },
  int(value) {
    return finite(value) ? Math.round(Number(value)).toLocaleString("en-US") : DASH;
  },
  pct(value, digits = 1) {
    return finite(value) ? `${(Number(value) * 100).toFixed(digits)}%` : DASH;
  },
  ms(value) {
    if (!finite(value)) return DASH;
    const n = Number(value);
    return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 2 : 1)} ms`;
  },
  rate(value) {
    if (!finite(value)) return DASH;
    const n = Number(value);
    return n >= 1 || n === 0 ? `${n.toFixed(n >= 100 ? 0 : 1)}/s` : `${(n * 60).toFixed(1)}/min`;
  },
  time(iso) {
    if (!iso) return DASH;
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  },
  ago(iso) {
    if (!iso) return DASH;
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!Number.isFinite(seconds)) return String(iso);
    if (seconds < 0) return `in ${fmt.duration(-seconds)}`;
    if (seconds < 5) return "just now";
    return `${fmt.duration(seconds)} ago`;
  },
  duration(seconds) {
    if (!finite(seconds)) return DASH;
    let s = Math.round(Number(seconds));
    if (s < 60) return `${s}s`;
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const hrs = Math.floor(s / 3600);
    s -= hrs * 3600;
    const m = Math.floor(s / 60);
    if (d) return `${d}d ${hrs}h`;
    if (hrs) return `${hrs}h ${m}m`;
    return `${m}m ${s % 60}s`;
  },
};

const STATE_TITLES = {
  loading: "Loading…",
  empty: "No data yet",
  insufficient: "Not enough data",
  error: "Something went wrong",
  broken: "Not working",
  info: "",
};

export function showState(el, kind, message) {
  const box = h(
    "div",
    { class: `state state-${kind}`, dataset: { state: kind }, role: kind === "error" ? "alert" : "status" },
    STATE_TITLES[kind] ? h("strong", {}, STATE_TITLES[kind]) : null,
    message ? h("p", {}, message) : null,
  );
  replace(el, box);
  return box;
}

export function table(columns, rows, { empty = "No rows", caption } = {}) {
  const head = h(
    "thead",
    {},
    h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.numeric ? "num" : null, title: c.title }, c.label))),
  );
  const body = h("tbody");
  if (!rows.length) {
    body.appendChild(h("tr", {}, h("td", { colspan: columns.length, class: "muted empty-row" }, empty)));
  }
  for (const row of rows) {
    body.appendChild(
      h(
        "tr",
        {},
        columns.map((c) => {
          const value = c.render ? c.render(row) : row[c.key];
          return h("td", { class: c.numeric ? "num" : null }, value ?? DASH);
        }),
      ),
    );
  }
  return h("table", { class: "grid" }, caption ? h("caption", {}, caption) : null, head, body);
}

export function badge(text, tone = "muted") {
  return h("span", { class: `badge badge-${tone}` }, text);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

export function kv(pairs) {
  return h(
    "dl",
    { class: "kv" },
    pairs.filter(Boolean).map(([label, value]) => [h("dt", {}, label), h("dd", {}, value ?? DASH)]),
  );
}
