// Canned replies: choosing one puts its text into the reply box (where it can still be edited).
export function useTemplates(doc) {
  const select = doc.querySelector("[data-template-select]");
  const box = doc.querySelector("#reply-text");
  if (!select || !box) return;
  select.addEventListener("change", () => {
    if (!select.value) return;
    box.value = box.value ? `${box.value}\n${select.value}` : select.value;
    box.dispatchEvent(new Event("input"));
    select.value = "";
    box.focus();
  });
}
