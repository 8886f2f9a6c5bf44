// The undo window after an approval: counts "Sent in N s" down to zero, then hides the Undo
// button. Without this script the page still works: the number stays as loaded and the
// server refuses an Undo that comes too late, with a message.
(function () {
  "use strict";

  function start(box) {
    if (box.dataset.undoStarted) return;
    box.dataset.undoStarted = "1";
    var left = parseInt(box.dataset.undoSeconds, 10);
    if (!(left > 0)) return;
    var end = Date.now() + left * 1000; // relative to page load: the server's clock may differ
    var count = box.querySelector("[data-undo-count]");
    var timer = window.setInterval(function () {
      var seconds = Math.ceil((end - Date.now()) / 1000);
      if (seconds > 0) {
        if (count) count.textContent = String(seconds);
        return;
      }
      window.clearInterval(timer);
      var text = box.querySelector("[data-undo-text]");
      if (text) text.textContent = "Sending now — it can no longer be undone.";
      box.querySelectorAll("form, [data-undo-sep]").forEach(function (el) {
        el.hidden = true;
      });
      var done = box.querySelector("[data-undo-done]");
      if (done) done.textContent = "The undo window has closed.";
    }, 250);
  }

  function scan(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("[data-undo]")) start(root);
    root.querySelectorAll("[data-undo]").forEach(start);
  }

  document.addEventListener("DOMContentLoaded", function () {
    scan(document);
  });
  // HTMX swaps in the decision result (and the queue's results) without a page load.
  document.addEventListener("htmx:load", function (event) {
    scan(event.detail && event.detail.elt);
  });
})();
