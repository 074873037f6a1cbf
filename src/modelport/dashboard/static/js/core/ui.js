// Confirmations, transient messages and buttons that know the caller's role.
import { h } from "./dom.js";

export function confirmAction({ title, message, confirmLabel = "Confirm", danger = false, fields = [] }) {
  return new Promise((resolve) => {
    const inputs = {};
    const rows = fields.map((field) => {
      const id = `confirm-${field.name}`;
      let input;
      if (field.type === "select") {
        input = h("select", { id, name: field.name }, (field.options ?? []).map(([value, label]) => h("option", { value, selected: value === field.value }, label)));
      } else {
        input = h("input", { id, name: field.name, type: field.type ?? "text", value: field.value ?? "", required: field.required ?? false });
      }
      inputs[field.name] = input;
      return h("div", { class: "field" }, h("label", { for: id }, field.label), input);
    });
    const cancel = h("button", { type: "button", class: "ghost", value: "cancel" }, "Cancel");
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary", value: "ok" }, confirmLabel);
    const form = h("form", { method: "dialog" }, h("h2", {}, title), message ? h("p", {}, message) : null, rows, h("div", { class: "actions" }, cancel, ok));
    const dialog = h("dialog", { class: "confirm", "aria-label": title }, form);
    document.body.appendChild(dialog);
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(null));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(null);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      const values = {};
      for (const [name, input] of Object.entries(inputs)) values[name] = input.value;
      finish(values);
    });
    dialog.showModal();
    (rows.length ? Object.values(inputs)[0] : ok).focus();
  });
}

let toasts = null;

export function toast(message, tone = "info") {
  if (!toasts) {
    toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.appendChild(toasts);
  }
  const item = h("div", { class: `toast toast-${tone}` }, message);
  toasts.appendChild(item);
  setTimeout(() => item.remove(), tone === "bad" ? 10000 : 5000);
  return item;
}

export function actionButton(label, { permission, ctx, onClick, danger = false }) {
  const allowed = ctx.can(permission);
  const button = h(
    "button",
    {
      type: "button",
      class: danger ? "danger" : "primary",
      disabled: !allowed,
      title: allowed ? null : `needs the ${permission} permission (you are ${ctx.who.role ?? ctx.who.name})`,
      dataset: { action: label.toLowerCase().replace(/\s+/g, "-") },
    },
    label,
  );
  if (allowed) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await onClick();
      } finally {
        button.disabled = false;
      }
    });
  }
  return button;
}
