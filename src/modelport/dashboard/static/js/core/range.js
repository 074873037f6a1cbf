// The time range every chart of a page follows, kept in the URL so a link shows the same.
import { h } from "./dom.js";

const PRESETS = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const STEPS = [60, 300, 900, 1800, 3600, 7200, 21600, 43200, 86400];

function stepFor(seconds) {
  const wanted = seconds / 100;
  return STEPS.find((s) => s >= wanted) ?? STEPS[STEPS.length - 1];
}

function toLocalInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function fromUrl() {
  const query = new URLSearchParams(window.location.search);
  const since = query.get("since");
  const until = query.get("until");
  if (since && until && !Number.isNaN(Date.parse(since)) && !Number.isNaN(Date.parse(until))) {
    return { label: "custom", since: new Date(since), until: new Date(until) };
  }
  const label = query.get("range");
  return { label: label in PRESETS ? label : "24h" };
}

function resolve(choice) {
  if (choice.label === "custom") {
    const seconds = Math.max(60, (choice.until - choice.since) / 1000);
    return { ...choice, stepS: stepFor(seconds) };
  }
  const seconds = PRESETS[choice.label];
  const until = new Date();
  return { label: choice.label, since: new Date(until.getTime() - seconds * 1000), until, stepS: stepFor(seconds) };
}

export function rangePicker(container, onChange) {
  let choice = fromUrl();
  const buttons = {};
  const since = h("input", { type: "datetime-local", "aria-label": "From" });
  const until = h("input", { type: "datetime-local", "aria-label": "To" });
  const apply = h("button", { type: "button", class: "ghost" }, "Apply");
  const custom = h("span", { class: "range-custom", hidden: true }, since, " – ", until, apply);

  const render = () => {
    for (const [label, button] of Object.entries(buttons)) {
      button.setAttribute("aria-pressed", String(label === choice.label));
    }
    custom.hidden = choice.label !== "custom";
  };

  const save = () => {
    const query = new URLSearchParams(window.location.search);
    query.delete("range");
    query.delete("since");
    query.delete("until");
    if (choice.label === "custom") {
      query.set("since", choice.since.toISOString());
      query.set("until", choice.until.toISOString());
    } else query.set("range", choice.label);
    history.replaceState(null, "", `${window.location.pathname}?${query}`);
  };

  const choose = (next) => {
    choice = next;
    save();
    render();
    onChange?.(resolve(choice));
  };

  for (const label of [...Object.keys(PRESETS), "custom"]) {
    buttons[label] = h(
      "button",
      {
        type: "button",
        class: "seg",
        dataset: { range: label },
        on: {
          click: () => {
            if (label !== "custom") return choose({ label });
            const current = resolve(choice);
            since.value = toLocalInput(current.since);
            until.value = toLocalInput(current.until);
            choice = { label: "custom", since: current.since, until: current.until };
            render();
          },
        },
      },
      label === "custom" ? "Custom" : label,
    );
  }
  apply.addEventListener("click", () => {
    const from = new Date(since.value);
    const to = new Date(until.value);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      since.setCustomValidity("choose a start before the end");
      since.reportValidity();
      return;
    }
    since.setCustomValidity("");
    choose({ label: "custom", since: from, until: to });
  });
  container.replaceChildren(h("div", { class: "range", role: "group", "aria-label": "Time range" }, Object.values(buttons), custom));
  render();
  return { current: () => resolve(choice) };
}
