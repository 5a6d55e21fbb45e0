// Interloan staff console: small enhancements over pages that work without script.
// No inline script anywhere (the Content-Security-Policy forbids it): behaviour is
// attached here by data attributes.
"use strict";

// Times: the server writes UTC; show them in the viewer's own zone, UTC on hover.
function localTimes(root) {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const el of root.querySelectorAll("time[datetime]")) {
    const d = new Date(el.getAttribute("datetime"));
    if (!isNaN(d)) el.textContent = fmt.format(d);
  }
}

// Forms with data-confirm ask before they are sent (deletes, cancels, batch actions).
function confirmations() {
  document.addEventListener("submit", (ev) => {
    const msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
}

// Live progress: an element with data-progress-src follows the server-sent events at
// that address and fills its [data-field] children; the page reloads when the stream
// says the work is done, so the final report shows.
function liveProgress() {
  for (const el of document.querySelectorAll("[data-progress-src]")) {
    const src = new EventSource(el.getAttribute("data-progress-src"));
    src.addEventListener("progress", (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      for (const [k, v] of Object.entries(data)) {
        for (const f of el.querySelectorAll(`[data-field="${k}"]`)) {
          if (f.tagName === "PROGRESS") f.value = Number(v); else f.textContent = String(v);
        }
      }
    });
    src.addEventListener("done", () => {
      src.close();
      // Reload into the final report, without the notice that led here.
      const u = new URL(window.location.href);
      u.searchParams.delete("msg");
      window.location.replace(u);
    });
    src.onerror = () => { /* EventSource reconnects by itself */ };
  }
}

// Select-all for batch actions: a checkbox with data-select-all toggles every
// checkbox named by its value.
function selectAll() {
  for (const box of document.querySelectorAll("input[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const b of document.querySelectorAll(`input[name="${box.getAttribute("data-select-all")}"]`)) b.checked = box.checked;
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  confirmations();
  liveProgress();
  selectAll();
});
