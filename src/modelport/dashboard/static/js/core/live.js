// Pages refresh themselves: one poll at a time, paused while the tab is hidden.
import { fmt } from "./dom.js";

function status(text, failed = false) {
  const slot = document.getElementById("live-status");
  if (!slot) return;
  slot.textContent = text;
  slot.classList.toggle("failed", failed);
}

// ``intervalMs``: a number, or a function asked before each wait (a page showing a month
// need not ask the server for it every ten seconds).
export async function live(refresh, { intervalMs } = {}) {
  const base = Math.max(1, Number(document.body.dataset.refresh || 10)) * 1000;
  const period = () => (typeof intervalMs === "function" ? intervalMs(base) : intervalMs ?? base);
  let timer = null;
  let running = null;
  let stopped = false;

  // A refresh asked for while one runs (a new range chosen mid-refresh) runs right after
  // it, so the newest choice is always drawn.
  let again = null;
  const tick = async () => {
    if (running) {
      again ??= running.then(() => {
        again = null;
        return tick();
      });
      return again;
    }
    running = (async () => {
      try {
        await refresh();
        status(`Updated ${fmt.time(new Date().toISOString()).slice(11)}`);
      } catch (error) {
        status(`Update failed: ${error.message}`, true);
        console.warn(error);
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const schedule = () => {
    clearTimeout(timer);
    if (stopped || document.hidden) return;
    timer = setTimeout(async () => {
      await tick();
      schedule();
    }, period());
  };

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) clearTimeout(timer);
    else tick().then(schedule);
  });

  await tick();
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    async now() {
      await tick();
      schedule();
    },
  };
}
