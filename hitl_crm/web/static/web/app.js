// Small progressive enhancements. No inline scripts anywhere (strict CSP).
(function () {
  "use strict";
  // Keyboard: an element with data-hotkey="x" gets focus (inputs) or a click (buttons/links) on "x".
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) return;
    var target = document.querySelector('[data-hotkey="' + CSS.escape(event.key) + '"]');
    if (!target) return;
    event.preventDefault();
    if (tag !== "input" && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) target.focus();
    else target.click();
  });
  // Messages fade after a while so they do not pile up.
  setTimeout(function () {
    document.querySelectorAll(".msg-success, .msg-info").forEach(function (el) { el.classList.add("fade"); });
  }, 6000);
})();
