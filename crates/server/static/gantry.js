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
