// Collapsible main navigation on narrow screens. The button is hidden in the markup so that,
// without this script, the menu simply stays open; CSS hides the panel only while the button
// is visible and says aria-expanded="false".
(function () {
  "use strict";
  var button = document.querySelector(".nav-toggle");
  if (!button) return;
  var panel = document.getElementById(button.getAttribute("aria-controls"));
  if (!panel) return;
  button.setAttribute("aria-expanded", "false");
  button.hidden = false;
  button.addEventListener("click", function () {
    button.setAttribute("aria-expanded", button.getAttribute("aria-expanded") === "true" ? "false" : "true");
  });
  // Escape closes the open menu and returns focus to its button.
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
})();
