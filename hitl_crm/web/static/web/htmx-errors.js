// What happens when an HTMX request fails, so that nobody loses what they typed.
// - 401 (session ended): the server answers with HX-Redirect to the sign-in page (next = this page);
//   the unsaved fields are kept in sessionStorage first and put back when this page loads again.
// - 403 with X-CSRF-Failure (the page's token is stale): same, then this page is loaded again.
// - 5xx, network errors and time-outs: a message in the alert region; the form stays as it is.
// A static file because the CSP forbids inline scripts.
(function () {
  "use strict";
  var PREFIX = "hitl-unsaved:";
  var TEXT = {
    restored: "Your unsaved edits were restored.",
    server: "Something went wrong on our side; your edits are still here. Try again.",
    offline: "You seem to be offline. Your edits are still here; try again when you are back online.",
    forbidden: "You don't have access to do this. Your edits are still here.",
  };

  function storageKey(path) { return PREFIX + (path || window.location.pathname); }

  function formKey(form, index) {
    return form.id || form.getAttribute("hx-post") || form.getAttribute("action") || "form-" + index;
  }

  function savable(field) {
    if (!field.name || field.disabled) return false;
    var type = (field.type || "").toLowerCase();
    return ["hidden", "password", "file", "submit", "button", "reset", "image"].indexOf(type) === -1;
  }

  function changed(field) {
    var type = (field.type || "").toLowerCase();
    if (type === "checkbox" || type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") {
      for (var i = 0; i < field.options.length; i++) {
        if (field.options[i].selected !== field.options[i].defaultSelected) return true;
      }
      return false;
    }
    return field.value !== field.defaultValue;
  }

  // Fields of POST forms whose value differs from what the server rendered (filters live in the URL).
  function unsavedFields() {
    var saved = [];
    Array.prototype.forEach.call(document.forms, function (form, index) {
      var method = (form.getAttribute("method") || (form.hasAttribute("hx-get") ? "get" : "post")).toLowerCase();
      if (method === "get" || form.hasAttribute("hx-get")) return;
      var key = formKey(form, index);
      Array.prototype.forEach.call(form.elements, function (field) {
        if (!savable(field) || !changed(field)) return;
        var entry = { form: key, name: field.name, type: (field.type || "").toLowerCase() };
        if (entry.type === "checkbox" || entry.type === "radio") {
          entry.value = field.value;
          entry.checked = field.checked;
        } else if (field.tagName === "SELECT" && field.multiple) {
          entry.values = Array.prototype.filter.call(field.options, function (o) { return o.selected; })
            .map(function (o) { return o.value; });
        } else {
          entry.value = field.value;
        }
        saved.push(entry);
      });
    });
    return saved;
  }

  function saveUnsaved() {
    var fields = unsavedFields();
    if (!fields.length) return;
    try {
      window.sessionStorage.setItem(storageKey(), JSON.stringify({ fields: fields, savedAt: Date.now() }));
    } catch (e) { /* storage full or disabled: nothing more we can do */ }
  }

  function restoreUnsaved() {
    var raw;
    try { raw = window.sessionStorage.getItem(storageKey()); } catch (e) { return; }
    if (!raw) return;
    var data;
    try { data = JSON.parse(raw); } catch (e) { data = null; }
    var forms = {};
    Array.prototype.forEach.call(document.forms, function (form, index) { forms[formKey(form, index)] = form; });
    var restored = 0;
    ((data && data.fields) || []).forEach(function (entry) {
      var form = forms[entry.form];
      if (!form) return;
      var fields = form.querySelectorAll('[name="' + CSS.escape(entry.name) + '"]');
      Array.prototype.forEach.call(fields, function (field) {
        if (entry.type === "checkbox" || entry.type === "radio") {
          if (field.value === entry.value) field.checked = entry.checked;
        } else if (entry.values) {
          Array.prototype.forEach.call(field.options, function (o) { o.selected = entry.values.indexOf(o.value) !== -1; });
        } else {
          field.value = entry.value;
        }
        field.dispatchEvent(new Event("input", { bubbles: true }));
        restored += 1;
      });
    });
    // Only forget the edits once they are back in a form (the sign-in page has none of them).
    if (restored) {
      window.sessionStorage.removeItem(storageKey());
      announce(TEXT.restored, "success");
    }
  }

  function announce(text, kind) {
    var region = document.getElementById("page-alert");
    if (!region) return;
    region.textContent = "";
    var msg = document.createElement("div");
    msg.className = "msg msg-" + (kind || "error");
    msg.textContent = text;
    region.appendChild(msg);
    region.hidden = false;
  }

  function clearAnnouncement() {
    var region = document.getElementById("page-alert");
    if (region && region.querySelector(".msg-error")) {
      region.textContent = "";
      region.hidden = true;
    }
  }

  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 401) {
      // htmx follows the HX-Redirect to the sign-in page right after this.
      saveUnsaved();
    } else if (xhr.status === 403 && xhr.getResponseHeader("X-CSRF-Failure")) {
      event.preventDefault();
      saveUnsaved();
      // A fresh GET of this page (never a re-POST; without the #fragment, which would not load anything).
      window.location.assign(window.location.href.split("#")[0]);
    } else if (xhr.status === 403) {
      announce(TEXT.forbidden);
    } else if (xhr.status >= 500) {
      announce(TEXT.server);
    } else if (xhr.status < 400) {
      clearAnnouncement();
    }
  });
  // Back/Forward whose page could not be fetched (session ended, server error): load it for real,
  // so the person sees the sign-in page or the error page instead of the previous page's content.
  document.addEventListener("htmx:historyCacheMissLoadError", function () {
    window.location.assign(window.location.href.split("#")[0]);
  });
  document.addEventListener("htmx:sendError", function () { announce(TEXT.offline); });
  document.addEventListener("htmx:timeout", function () { announce(TEXT.offline); });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restoreUnsaved);
  else restoreUnsaved();
  // A form that arrives in a panel loaded after the page (hx-trigger="load") gets its edits too.
  document.addEventListener("htmx:afterSettle", restoreUnsaved);
})();
