// Copy buttons of the snippet page. Loaded as a file so the console's CSP can forbid
// inline scripts.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent).then(() => {
    const label = button.textContent;
    button.textContent = button.dataset.copied;
    setTimeout(() => { button.textContent = label; }, 2000);
  });
});

// Print buttons (the compliance report prints on A4 with its own print styles).
document.addEventListener("click", (event) => {
  if (event.target.closest("button[data-print]")) window.print();
});
