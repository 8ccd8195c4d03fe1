// Forms that undo something ask first: <form data-confirm="…">.
document.addEventListener("submit", (e) => {
  const ask = e.target.dataset && e.target.dataset.confirm;
  if (ask && !window.confirm(ask)) e.preventDefault();
});
