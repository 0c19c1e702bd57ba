// dirsync console: the little JavaScript the console has. Every page works
// without it; with it, a run's page follows the run without reloading
// until the run ends (without it, the page reloads itself every 2 seconds).
"use strict";
document.querySelectorAll("[data-follow-run]").forEach(function (el) {
  var url = el.getAttribute("data-follow-run");
  function tick() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (run) {
        if (run.outcome !== "queued" && run.outcome !== "running") {
          location.reload();
          return;
        }
        el.textContent = run.outcome;
        var progress = document.getElementById("progress");
        if (progress && run.progress) { progress.textContent = run.progress; }
        setTimeout(tick, 1500);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 1500);
});
