// Keeps SLA countdowns ticking between page loads. The server renders every clock with its
// colour already right; this only moves the numbers. It counts from the server's clock
// (<body data-now>) so a phone whose clock is off still shows the server's view of the SLA.
(function () {
  "use strict";
  var body = document.body;
  var serverNow = Date.parse(body.getAttribute("data-now"));
  var warn = parseInt(body.getAttribute("data-warn") || "300", 10);
  if (isNaN(serverNow)) { return; }
  var skew = serverNow - Date.now();

  function format(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var total = Math.floor(Math.abs(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    if (h) { return sign + h + "h " + pad(m) + "m"; }
    if (m) { return sign + m + "m " + pad(s) + "s"; }
    return sign + s + "s";
  }

  function tick() {
    var now = Date.now() + skew;
    var clocks = document.querySelectorAll(".clock[data-due]");
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var left = (Date.parse(el.getAttribute("data-due")) - now) / 1000;
      var level = left <= 0 ? "breached" : (left <= warn ? "warn" : "ok");
      el.classList.remove("ok", "warn", "breached");
      el.classList.add(level);
      el.textContent = left <= 0 ? format(-left) + " late" : format(left) + " left";
    }
  }
  setInterval(tick, 1000);
})();
