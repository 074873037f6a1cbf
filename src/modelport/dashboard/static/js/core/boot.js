// Page start-up: find out who the caller is (signing in when the server asks for a token),
// then hand the page its context. Sets body[data-ready="1"] once the first render is done.
import { ApiError, api, forgetToken, setToken, token } from "./api.js";
import { chartsLoaded } from "./charts.js";
import { h, replace, showState } from "./dom.js";

const THEME_KEY = "modelport.theme";

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

function setupTheme() {
  const stored = localStorage.getItem(THEME_KEY);
  const prefersDark = window.matchMedia?.("(prefers-color-scheme: dark)").matches;
  applyTheme(stored ?? (prefersDark ? "dark" : "light"));
  document.getElementById("theme")?.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    window.dispatchEvent(new CustomEvent("modelport:theme", { detail: next }));
  });
}

function askForToken(message) {
  const dialog = document.getElementById("signin");
  const form = document.getElementById("signin-form");
  const input = document.getElementById("signin-token");
  const remember = document.getElementById("signin-remember");
  const error = document.getElementById("signin-error");
  error.textContent = message ?? "";
  input.value = "";
  return new Promise((resolve) => {
    const submit = (event) => {
      event.preventDefault();
      const value = input.value.trim();
      if (!value) return;
      form.removeEventListener("submit", submit);
      setToken(value, remember.checked);
      dialog.close();
      resolve();
    };
    form.addEventListener("submit", submit);
    dialog.addEventListener("cancel", (event) => event.preventDefault());
    dialog.showModal();
    input.focus();
  });
}

async function identify() {
  let message = null;
  for (;;) {
    try {
      return await api("/v1/whoami");
    } catch (error) {
      if (!(error instanceof ApiError) || ![401, 403].includes(error.status)) throw error;
      if (token()) {
        message = error.status === 401 ? `Token refused: ${error.message}` : error.message;
        forgetToken();
      }
      await askForToken(message);
    }
  }
}

function showCaller(who) {
  const slot = document.getElementById("who");
  if (!slot) return;
  if (who.open) {
    replace(slot, h("span", { class: "badge badge-warn", title: "no tokens configured: loopback only" }, "open server"));
    return;
  }
  replace(
    slot,
    h("span", { class: "who-name", title: `permissions: ${who.permissions.join(", ")}` }, `${who.name} · ${who.role}`),
    h(
      "button",
      {
        class: "ghost",
        type: "button",
        on: {
          click: () => {
            forgetToken();
            window.location.reload();
          },
        },
      },
      "Sign out",
    ),
  );
}

function pageParams() {
  const params = {};
  for (const [key, value] of Object.entries(document.body.dataset)) {
    if (!["page", "refresh", "ready"].includes(key)) params[key] = value;
  }
  return params;
}

// ``early``: the page starts before the chart library is parsed and waits for
// ``chartsLoaded`` itself before it draws; other pages start once it is there.
export function ready(start, { early = false } = {}) {
  const run = async () => {
    setupTheme();
    const content = document.getElementById("page") ?? document.getElementById("content");
    try {
      const who = await identify();
      showCaller(who);
      const granted = new Set(who.permissions);
      const ctx = {
        who,
        can: (permission) => granted.has(permission),
        params: pageParams(),
        refreshMs: Math.max(1, Number(document.body.dataset.refresh || 10)) * 1000,
      };
      if (!early) await chartsLoaded;
      await start(ctx);
    } catch (error) {
      const message = error instanceof ApiError ? error.message : `This page failed: ${error.message}`;
      showState(content, "error", message);
      console.warn(error);
    }
    document.body.dataset.ready = "1";
  };
  // Module scripts run once the document is parsed (ECharts may still be loading): start
  // at once rather than wait for every image and font ("load").
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", run, { once: true });
  else run();
}
