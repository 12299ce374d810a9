// Live progress of a remediation job and deadline timers; the pages work without it.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (box && box.dataset.url) {
    var bar = box.querySelector("progress"), text = box.querySelector(".message"), st = box.querySelector(".status");
    var poll = function () {
      fetch(box.dataset.url, {credentials: "same-origin", headers: {"accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (j) {
          var live = j.live || {};
          st.textContent = j.status;
          text.textContent = live.message || "";
          if (live.total) { bar.max = live.total; bar.value = live.done; }
          var ended = live.message === "done" || live.status === "failed" ||
            ["failed", "paused", "done_with_errors"].indexOf(j.status) >= 0;
          if (ended && !box.dataset.reloaded) {
            box.dataset.reloaded = "1"; bar.max = 1; bar.value = 1;
            window.location.replace(window.location.pathname); return;
          }
          window.setTimeout(poll, 800);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    };
    poll();
  }
  var timers = document.querySelectorAll("[data-due]");
  var tick = function () {
    var now = Date.now();
    timers.forEach(function (el) {
      var end = Date.parse(el.dataset.due + "T23:59:59Z"), left = end - now;
      var d = Math.floor(Math.abs(left) / 86400000), h = Math.floor((Math.abs(left) % 86400000) / 3600000);
      el.textContent = left < 0 ? "overdue by " + d + " d " + h + " h" : d + " d " + h + " h left";
      el.className = left < 0 ? "overdue" : (left < 3 * 86400000 ? "soon" : "");
    });
  };
  if (timers.length) { tick(); window.setInterval(tick, 60000); }
})();
