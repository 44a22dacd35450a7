// Live updates from /console/events: the stream carries metadata only (case ids, states, counts); the page then
// fetches what changed through its normal, authorized routes. Without a session the stream answers 401 and
// EventSource gives up: the page goes to the login page (drafts are kept by draft.js).
export function startLive(doc) {
  const transcript = doc.querySelector("[data-transcript]");
  const queue = doc.querySelector("[data-queue]");
  if (!transcript && !queue) return;
  const status = doc.querySelector("[data-live-status]");
  const reconnecting = doc.body.dataset.liveReconnecting || "";
  let boot = null;
  let chain = Promise.resolve();
  const serially = (work) => {
    chain = chain.then(work).catch(() => {});
  };

  const source = new EventSource("/console/events");
  source.addEventListener("hello", (e) => {
    const hello = JSON.parse(e.data);
    if (status) status.textContent = "";
    // A reconnect (e.g. after a server restart): events may have been missed, so refetch.
    if (boot !== null) refetchAll();
    boot = hello.boot;
  });
  source.addEventListener("case", (e) => {
    const event = JSON.parse(e.data);
    if (transcript && event.case === transcript.dataset.case) {
      serially(() => fetchTranscript(event.kind === "delivery"));
    }
    if (queue) serially(refreshQueue);
  });
  source.addEventListener("gone", () => {
    if (queue) serially(refreshQueue);
  });
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      window.location.assign("/console/login");
    } else if (status) {
      status.textContent = reconnecting;
    }
  });

  function refetchAll() {
    if (transcript) serially(() => fetchTranscript(true));
    if (queue) serially(refreshQueue);
  }

  async function fetchTranscript(everything) {
    const after = everything ? 0 : Number(transcript.dataset.lastSeq || 0);
    const response = await fetch(`${transcript.dataset.fragment}?after_seq=${after}`, {
      credentials: "same-origin",
      redirect: "manual",
    });
    if (!response.ok) return;
    const template = doc.createElement("template");
    template.innerHTML = await response.text();
    for (const item of template.content.querySelectorAll("li[data-message-id]")) {
      const existing = transcript.querySelector(`li[data-message-id="${CSS.escape(item.dataset.messageId)}"]`);
      if (existing) existing.replaceWith(item);
      else transcript.append(item);
      const seq = Number(item.dataset.seq || 0);
      if (seq > Number(transcript.dataset.lastSeq || 0)) transcript.dataset.lastSeq = String(seq);
    }
  }

  async function refreshQueue() {
    const response = await fetch(window.location.pathname, { credentials: "same-origin", redirect: "manual" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-queue]");
    if (!fresh) return;
    // Keep keyboard focus where it was: the same control of the same case.
    const active = doc.activeElement;
    const row = active?.closest?.("[data-case-id]");
    const focusCase = row?.dataset.caseId;
    const focusTag = active?.tagName;
    const csrf = doc.querySelector('meta[name="csrf-token"]')?.content;
    queue.replaceChildren(...fresh.childNodes);
    if (csrf) for (const input of queue.querySelectorAll('input[name="csrf"]')) input.value = csrf;
    if (focusCase) {
      const again = queue.querySelector(`[data-case-id="${CSS.escape(focusCase)}"]`);
      const target = again?.querySelector(focusTag === "BUTTON" ? "button" : "a");
      target?.focus();
    }
  }
}
