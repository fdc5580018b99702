// The record-visit form: more need/commitment/hospitality rows on demand, check-in with the
// phone's location, the check-in block only for in-person visits, key messages narrowed to the
// products chosen (the server checks the same).
(function () {
  "use strict";

  function addRow(button) {
    var box = button.closest("[data-rows]");
    var prefix = box.dataset.rows;
    var total = box.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var template = box.querySelector("template[data-rows-template]");
    var index = parseInt(total.value, 10);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    box.querySelector("[data-rows-list]").insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var rows = box.querySelectorAll("[data-rows-list] .row-card");
    var input = rows[rows.length - 1].querySelector("input[type=text], input:not([type])");
    if (input) input.focus();
  }

  function channelOf(form) {
    var checked = form.querySelector('input[name="channel"]:checked');
    return checked ? checked.value : "in_person";
  }

  function syncCheckIn(form) {
    var block = form.querySelector("[data-check-in]");
    if (!block) return;
    var inPerson = channelOf(form) === "in_person";
    block.hidden = !inPerson;
    if (!inPerson) {
      var box = block.querySelector('input[name="check_in"]');
      if (box) box.checked = false;
    }
  }

  function locate(form, box) {
    var block = box.closest("[data-check-in]");
    var status = block.querySelector("[data-check-in-status]");
    var lat = form.querySelector('input[name="latitude"]');
    var lon = form.querySelector('input[name="longitude"]');
    lat.value = ""; lon.value = "";
    if (!box.checked) { status.textContent = status.dataset.initial || ""; return; }
    var consent = block.querySelector("[data-location-consent]");
    if (!consent || consent.value !== "1" || !navigator.geolocation) {
      status.textContent = status.dataset.msgTimeOnly;
      return;
    }
    status.textContent = status.dataset.msgLocating;
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lon.value = pos.coords.longitude.toFixed(6);
        status.textContent = status.dataset.msgLocated.replace("{m}", String(Math.round(pos.coords.accuracy)));
      },
      function () { status.textContent = status.dataset.msgFailed; },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
  }

  // Which product each key message belongs to, read before Tom Select takes over the <select>.
  var messageProduct = {};

  function narrowKeyMessages(form) {
    var messages = form.querySelector("#id_key_messages");
    var products = form.querySelector("#id_products");
    var ts = messages && messages.tomselect;
    if (!ts || !products) return;
    if (!ts.allOptions) ts.allOptions = Object.assign({}, ts.options);
    var chosen = {};
    Array.prototype.forEach.call(products.selectedOptions, function (o) { chosen[o.value] = true; });
    var any = Object.keys(chosen).length > 0;
    Object.keys(ts.allOptions).forEach(function (value) {
      var keep = !any || chosen[messageProduct[value]] || ts.items.indexOf(value) >= 0;
      if (keep && !ts.options[value]) ts.addOption(ts.allOptions[value]);
      if (!keep && ts.options[value]) ts.removeOption(value);
    });
    ts.refreshOptions(false);
  }

  function init() {
    var form = document.getElementById("visit-form");
    if (!form) return;
    form.querySelectorAll("#id_key_messages option[data-product]").forEach(function (o) {
      messageProduct[o.value] = o.dataset.product;
    });
    // Tom Select is set up by app.js on the same event; narrow once it has run.
    setTimeout(function () { narrowKeyMessages(form); }, 0);
    var status = form.querySelector("[data-check-in-status]");
    if (status) status.dataset.initial = status.textContent.trim();
    syncCheckIn(form);
    form.addEventListener("click", function (e) {
      var button = e.target.closest("[data-add-row]");
      if (button) { e.preventDefault(); addRow(button); }
    });
    form.addEventListener("change", function (e) {
      if (e.target.name === "channel") syncCheckIn(form);
      if (e.target.name === "products") narrowKeyMessages(form);
      if (e.target.name === "check_in") locate(form, e.target);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
