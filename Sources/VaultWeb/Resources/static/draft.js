// A reply or note being typed survives an expired session: every textarea marked data-draft-key is saved to
// sessionStorage as it changes and restored when its page comes back (after logging in again). Only the page
// the server renders after a successful submit (data-done="reply" or "note") clears the draft.
export function keepDrafts(doc) {
  const done = doc.querySelector("[data-done]")?.dataset.done;
  let pending = false;
  for (const box of doc.querySelectorAll("textarea[data-draft-key]")) {
    const key = "cv-draft:" + box.dataset.draftKey;
    if (done && box.dataset.draftKey.startsWith(done + ":")) window.sessionStorage.removeItem(key);
    const saved = window.sessionStorage.getItem(key);
    if (saved && !box.value) box.value = saved;
    box.addEventListener("input", () => {
      if (box.value) window.sessionStorage.setItem(key, box.value);
      else window.sessionStorage.removeItem(key);
    });
  }
  const notice = doc.querySelector("[data-draft-notice]");
  if (notice) {
    for (let i = 0; i < window.sessionStorage.length; i++) {
      if (window.sessionStorage.key(i)?.startsWith("cv-draft:")) pending = true;
    }
    notice.hidden = !pending;
  }
}
