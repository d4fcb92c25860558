// The dashboard's own script, loaded from 'self' (the CSP allows no inline script):
// copy buttons and confirmations before destructive form posts. Pages work without it.
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("button.copy[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(function () {
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = "Copy"; }, 1500);
  }, function () {
    button.textContent = "Select and copy";
  });
});
document.addEventListener("submit", function (event) {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
