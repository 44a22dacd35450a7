// The session's remaining idle time, counted down from the server's idle limit; any page load or action resets
// it on the server, so the page resets it too. At zero the session is gone: go to the login page (the reply
// draft is already kept by draft.js).
export function startIdleClock(body) {
  const seconds = Number(body.dataset.idleSeconds || 0);
  const clock = document.querySelector("[data-idle-clock]");
  if (!seconds || !clock) return;
  const deadline = Date.now() + seconds * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const m = Math.floor(left / 60);
    const s = String(left % 60).padStart(2, "0");
    clock.textContent = `${m}:${s}`;
    if (left === 0) {
      window.location.assign("/console/login");
      return;
    }
    window.setTimeout(tick, 1000);
  };
  tick();
}
