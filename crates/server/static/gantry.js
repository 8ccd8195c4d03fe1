// Forms that undo something ask first: <form data-confirm="…">.
document.addEventListener("submit", (e) => {
  const ask = e.target.dataset && e.target.dataset.confirm;
  if (ask && !window.confirm(ask)) e.preventDefault();
});

// Copy buttons: <button type="button" data-copy="ELEMENT_ID">Copy</button>.
document.addEventListener("click", async (e) => {
  const b = e.target.closest && e.target.closest("button[data-copy]");
  if (!b) return;
  const from = document.getElementById(b.dataset.copy);
  if (!from || !navigator.clipboard) return;
  await navigator.clipboard.writeText(from.textContent.trim());
  const was = b.textContent;
  b.textContent = "Copied";
  setTimeout(() => (b.textContent = was), 1500);
});

// On a phone the header folds its page links behind "Menu" (shown only when this script
// runs: without it the links simply wrap).
document.documentElement.classList.add("js");
document.addEventListener("click", (e) => {
  const b = e.target.closest && e.target.closest("button.menu-toggle");
  if (!b) return;
  const more = document.getElementById(b.getAttribute("aria-controls"));
  const open = b.getAttribute("aria-expanded") !== "true";
  b.setAttribute("aria-expanded", String(open));
  if (more) more.classList.toggle("open", open);
});
