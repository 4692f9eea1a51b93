// Roster's live view of a run under way: it follows the run's event
// stream (Server-Sent Events from this origin) and shows its progress;
// when the run ends it loads the page again, which shows the outcome.
// Without this script the page's Refresh link does the same by hand.
"use strict";

(() => {
  const live = document.getElementById("live");
  if (!live || !live.dataset.events || !window.EventSource) {
    return;
  }
  const note = document.getElementById("live-note");
  const bar = document.getElementById("live-bar");
  const status = document.getElementById("run-status");
  let updates = 0;

  const show = (p) => {
    for (const el of live.querySelectorAll("[data-live]")) {
      const v = p[el.dataset.live];
      if (v !== undefined) {
        el.textContent = String(v);
      }
    }
    if (bar) {
      bar.max = Math.max(p.scopes_total, 1);
      bar.value = p.scopes_done;
      bar.textContent = p.scopes_done + " of " + p.scopes_total;
    }
    if (status && p.status) {
      status.textContent = p.status;
      status.className = "status status-" + p.status;
    }
    updates++;
    live.dataset.updates = String(updates);
  };

  const stream = new EventSource(live.dataset.events);
  stream.addEventListener("progress", (e) => show(JSON.parse(e.data)));
  stream.addEventListener("end", (e) => {
    stream.close();
    show(JSON.parse(e.data));
    live.dataset.ended = "true";
    if (note) {
      note.textContent = "The run ended: loading its outcome…";
    }
    window.location.reload();
  });
  stream.addEventListener("error", () => {
    // The browser tries again by itself unless the server refused.
    if (stream.readyState === EventSource.CLOSED && note) {
      note.textContent = "Live updates stopped: ";
      const a = document.createElement("a");
      a.href = window.location.pathname;
      a.textContent = "Refresh";
      note.append(a);
    }
  });
})();
