// Small progressive enhancements; every page works without JavaScript.
(function () {
  "use strict";
  // Move focus to the error summary so screen readers announce it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  // Print pages: a button that opens the browser's print dialog (hidden without JavaScript).
  var printButtons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < printButtons.length; i++) {
    printButtons[i].hidden = false;
    printButtons[i].addEventListener("click", function () { window.print(); });
  }

  // Warn two minutes before an idle session ends and let the user extend it (KWCAG: adjustable time limits).
  var idle = parseInt(document.body.getAttribute("data-idle-seconds") || "0", 10);
  var box = document.getElementById("session-warning");
  var button = document.getElementById("session-extend");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  if (!idle || !box || !button || !tokenMeta) { return; }
  var timer = null;
  var returnFocus = null;
  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () {
      returnFocus = document.activeElement;
      box.hidden = false;
      button.focus();
    }, Math.max(idle - 120, 30) * 1000);
  }
  button.addEventListener("click", function () {
    var body = "csrf_token=" + encodeURIComponent(tokenMeta.getAttribute("content"));
    fetch("/session/extend", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: body
    }).then(function (res) {
      if (res.ok) {
        box.hidden = true;
        if (returnFocus && returnFocus.focus) { returnFocus.focus(); }
        schedule();
      } else { window.location.reload(); }
    });
  });
  schedule();
})();
