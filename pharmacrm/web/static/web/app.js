// PharmaCRM behaviour: Tom Select on marked selects, ECharts from JSON options, HTMX niceties.
(function () {
  "use strict";

  function initSelects(root) {
    if (!window.TomSelect) return;
    root.querySelectorAll("select[data-tom-select]:not(.tomselected)").forEach(function (el) {
      var url = el.dataset.autocompleteUrl;
      var options = { maxOptions: 50, allowEmptyOption: true, plugins: el.multiple ? ["remove_button"] : [] };
      if (url) {
        options.valueField = "id";
        options.labelField = "text";
        options.searchField = [];
        options.load = function (query, callback) {
          if (!query.length) return callback();
          fetch(url + "?q=" + encodeURIComponent(query), { credentials: "same-origin" })
            .then(function (r) { return r.json(); })
            .then(function (data) { callback(data.results); })
            .catch(function () { callback(); });
        };
      }
      new TomSelect(el, options);
    });
  }

  function initCharts(root) {
    if (!window.echarts) return;
    root.querySelectorAll("[data-echarts]").forEach(function (el) {
      var source = document.getElementById(el.dataset.echarts);
      if (!source || el.dataset.rendered) return;
      var chart = window.echarts.init(el);
      chart.setOption(JSON.parse(source.textContent));
      el.dataset.rendered = "1";
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  function init(root) { initSelects(root); initCharts(root); }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  // htmx:load fires on every element htmx inserts; afterSwap's target is the old, detached
  // element when a form replaces itself (hx-swap="outerHTML"), so its new selects were missed.
  document.addEventListener("htmx:load", function (e) { init(e.target); });
  // Keep the list's URL shareable: htmx pushes the filtered URL (hx-push-url), nothing else to do.
})();
