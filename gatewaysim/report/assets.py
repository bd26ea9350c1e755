"""The style sheet and script every report page carries inline.

Inline, so a page opens from a CI artifact or a mail attachment with no network access
and no sibling files; the pages' content security policy forbids loading anything else.
The script is plain JavaScript with no library: it filters the timeline table and
switches the sequence diagram between its time and event-order axes.
"""

from __future__ import annotations

CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
       "img-src data:")
"""What a page may load: its own inline style and script, nothing from anywhere else."""

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #111; max-width: 1400px; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
code, .mono, #timeline td { font-family: monospace; font-size: 12px; }
.verdict { padding: 0.6em 1em; border-radius: 4px; margin: 0.8em 0; font-weight: 600; }
.violated { background: #fdecea; border: 1px solid #d62728; }
.holds { background: #e8f5e9; border: 1px solid #2ca02c; }
.muted { color: #666; }
.figure { overflow-x: auto; border: 1px solid #eee; padding: 4px; margin: 0.5em 0; }
.controls { margin: 0.5em 0; display: flex; gap: 1em; flex-wrap: wrap; align-items: center; }
.controls input[type=search] { width: 22em; }
#timeline tr.step td { background: #f0f0f0; font-weight: 600; }
#timeline tr.violation td { background: #fdecea; color: #b71c1c; font-weight: 600; }
#timeline tr.fault td { background: #fff8e1; }
#timeline tr.hidden { display: none; }
.hung { color: #d62728; font-weight: 600; }
"""

JS = """
(function () {
  "use strict";
  function filterTimeline() {
    var table = document.getElementById("timeline");
    if (!table) { return; }
    var text = document.getElementById("filter-text").value.toLowerCase();
    var actor = document.getElementById("filter-actor").value;
    var kind = document.getElementById("filter-kind").value;
    var rows = table.tBodies[0].rows;
    var shown = 0, total = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      if (!row.classList.contains("record")) { continue; }
      total++;
      var ok = (!actor || row.getAttribute("data-actor") === actor) &&
               (!kind || row.getAttribute("data-kind") === kind) &&
               (!text || row.textContent.toLowerCase().indexOf(text) !== -1);
      row.classList.toggle("hidden", !ok);
      if (ok) { shown++; }
    }
    document.getElementById("shown-count").textContent =
      shown + " of " + total + " records shown";
  }
  function showAxis(axis) {
    var figures = document.querySelectorAll("[data-axis]");
    for (var i = 0; i < figures.length; i++) {
      figures[i].hidden = figures[i].getAttribute("data-axis") !== axis;
    }
    var buttons = document.querySelectorAll("button[data-show-axis]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].disabled = buttons[j].getAttribute("data-show-axis") === axis;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var ids = ["filter-text", "filter-actor", "filter-kind"];
    for (var i = 0; i < ids.length; i++) {
      var el = document.getElementById(ids[i]);
      if (el) {
        el.addEventListener("input", filterTimeline);
        el.addEventListener("change", filterTimeline);
      }
    }
    var buttons = document.querySelectorAll("button[data-show-axis]");
    for (var j = 0; j < buttons.length; j++) {
      buttons[j].addEventListener("click", function (ev) {
        showAxis(ev.currentTarget.getAttribute("data-show-axis"));
      });
    }
    if (buttons.length) { showAxis("time"); }
    filterTimeline();
  });
})();
"""

__all__ = ["CSP", "CSS", "JS"]
