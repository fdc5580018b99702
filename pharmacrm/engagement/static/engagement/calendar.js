// Drag a planned visit to another slot (week) or day (month); the server checks and answers in JSON.
(function () {
  "use strict";

  function status(grid, text, kind) {
    var box = document.getElementById("plan-status");
    if (!box) return;
    box.className = "small alert py-1 px-2 alert-" + (kind || "info");
    box.textContent = text;
  }

  function post(grid, url, startsAt) {
    var body = new FormData();
    body.append("starts_at", startsAt);
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": grid.dataset.csrf }
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    });
  }

  function init(grid) {
    var dragged = null;
    grid.addEventListener("dragstart", function (e) {
      var el = e.target.closest("[data-move-url]");
      if (!el) return;
      dragged = el;
      el.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", el.dataset.moveUrl);
    });
    grid.addEventListener("dragend", function () {
      if (dragged) dragged.classList.remove("dragging");
      grid.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    });
    function target(e) { return e.target.closest("[data-drop], [data-drop-day]"); }
    grid.addEventListener("dragover", function (e) {
      var cell = target(e);
      if (!cell || !dragged) return;
      e.preventDefault();
      grid.querySelectorAll(".drop-target").forEach(function (c) { if (c !== cell) c.classList.remove("drop-target"); });
      cell.classList.add("drop-target");
    });
    grid.addEventListener("drop", function (e) {
      var cell = target(e);
      if (!cell || !dragged) return;
      e.preventDefault();
      // A month cell keeps the visit's time of day.
      var startsAt = cell.dataset.drop || (cell.dataset.dropDay + "T" + dragged.dataset.start.split("T")[1]);
      if (startsAt === dragged.dataset.start) return;
      status(grid, "…");
      post(grid, dragged.dataset.moveUrl, startsAt).then(function (res) {
        if (!res.ok) {
          status(grid, res.data.error ? res.data.error.message : "error", "danger");
          return;
        }
        var warnings = res.data.warnings || [];
        if (warnings.length) {
          sessionStorage.setItem("plan-warning", warnings.join(" "));
        }
        window.location.reload();
      }).catch(function () { status(grid, "网络错误，未调整。", "danger"); });
    });
    var warning = sessionStorage.getItem("plan-warning");
    if (warning) {
      sessionStorage.removeItem("plan-warning");
      status(grid, warning, "warning");
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-calendar]").forEach(init);
  });
})();
