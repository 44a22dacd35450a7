// The supervisor's dashboard, live: the event stream says (metadata only) that a case of the desk changed; the
// page then refetches itself through its normal, authorized route and swaps in the [data-dashboard] region. Who
// is unlocked and how long someone waits change without a case event, so the region is also refreshed every
// 20 seconds. A refresh waits while a control in the region has focus (a handover being chosen is not reset).
export function startDashboard(doc) {
  const region = doc.querySelector("[data-dashboard]");
  if (!region) return;
  const status = doc.querySelector("[data-live-status]");
  const reconnecting = doc.body.dataset.liveReconnecting || "";
  let boot = null;
  let pending = false;
  let running = false;

  const busy = () => region.contains(doc.activeElement) && doc.activeElement.matches("select, input, textarea");

  async function refresh() {
    if (running || busy()) {
      pending = true;
      return;
    }
    running = true;
    pending = false;
    try {
      const response = await fetch(window.location.pathname, { credentials: "same-origin", redirect: "manual" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-dashboard]");
      if (!fresh) return;
      const csrf = doc.querySelector('meta[name="csrf-token"]')?.content;
      region.replaceChildren(...fresh.childNodes);
      if (csrf) for (const input of region.querySelectorAll('input[name="csrf"]')) input.value = csrf;
    } catch {
      // The next event or tick tries again.
    } finally {
      running = false;
      if (pending) window.setTimeout(refresh, 0);
    }
  }

  region.addEventListener("focusout", () => {
    if (pending) window.setTimeout(refresh, 0);
  });
  window.setInterval(refresh, 20000);

  const source = new EventSource("/console/events");
  source.addEventListener("hello", (e) => {
    const hello = JSON.parse(e.data);
    if (status) status.textContent = "";
    if (boot !== null) refresh();
    boot = hello.boot;
  });
  source.addEventListener("case", refresh);
  source.addEventListener("gone", refresh);
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) window.location.assign("/console/login");
    else if (status) status.textContent = reconnecting;
  });
}
