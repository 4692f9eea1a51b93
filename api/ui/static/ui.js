// Roster's Web UI: enhancements every page may use. Pages work without
// it; the CSP allows only scripts served by Roster itself.
"use strict";

// A form with data-confirm asks before it is sent.
document.addEventListener("submit", (e) => {
  const msg = e.target instanceof HTMLFormElement && e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) {
    e.preventDefault();
  }
});
