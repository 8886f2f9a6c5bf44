// Starts Redoc on /api/redoc/ from a static file (CSP forbids inline scripts).
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  if (!container || !window.Redoc) return;
  // Redoc's sidebar credit renders <img src="https://cdn.redoc.ly/..."> and there is no option to turn it
  // off. The docs page requests nothing from other hosts, so image sources on other origins are dropped.
  function foreign(value) {
    var url = new URL(String(value), document.baseURI);
    return url.origin !== window.location.origin && url.protocol !== "data:";
  }
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && foreign(value)) return;
    return setAttribute.call(this, name, value);
  };
  var src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: src.enumerable,
    get: src.get,
    set: function (value) {
      if (!foreign(value)) src.set.call(this, value);
    },
  });
  var settings = {};
  try {
    settings = JSON.parse(container.getAttribute("data-settings") || "{}");
  } catch (error) {
    settings = {};
  }
  window.Redoc.init(container.getAttribute("data-schema-url"), settings, container);
})();
