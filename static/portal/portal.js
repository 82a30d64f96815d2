/* Tenantry portal: progressive enhancements only. Every page works without this file,
   except the copy button (which is hidden until this script shows it). */
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#id" hidden>Copy</button> copies the target's text.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    var target = document.querySelector(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) return;
    button.hidden = false;
    var label = button.textContent;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = "Copied";
        var status = document.getElementById(button.getAttribute("aria-controls") || "");
        if (status) status.textContent = "Copied to the clipboard";
        setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  });

  // Destructive actions: a link to the confirmation page becomes a <dialog> on this page.
  // <a href="/…/revoke/" data-confirm-action="/…/revoke/" data-confirm-title="…"
  //    data-confirm-body="…" data-confirm-button="Revoke key">
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.querySelectorAll("a[data-confirm-action]").forEach(function (link) {
    if (!csrf || typeof HTMLDialogElement !== "function") return;
    link.addEventListener("click", function (event) {
      event.preventDefault();
      var dialog = document.createElement("dialog");
      dialog.className = "confirm";
      dialog.setAttribute("aria-labelledby", "confirm-title");
      var title = document.createElement("h2");
      title.id = "confirm-title";
      title.textContent = link.getAttribute("data-confirm-title");
      var body = document.createElement("p");
      body.textContent = link.getAttribute("data-confirm-body") || "";
      var form = document.createElement("form");
      form.method = "post";
      form.action = link.getAttribute("data-confirm-action");
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrfmiddlewaretoken";
      token.value = csrf.getAttribute("content");
      var row = document.createElement("div");
      row.className = "button-row";
      var confirm = document.createElement("button");
      confirm.type = "submit";
      confirm.className = "danger";
      confirm.textContent = link.getAttribute("data-confirm-button") || "Confirm";
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = "Cancel";
      cancel.addEventListener("click", function () { dialog.close(); });
      row.append(confirm, cancel);
      form.append(token, row);
      dialog.append(title, body, form);
      dialog.addEventListener("close", function () { dialog.remove(); link.focus(); });
      document.body.append(dialog);
      dialog.showModal();
      cancel.focus();
    });
  });

  // Times: the server writes UTC; show the viewer's own time zone when the browser has one.
  var format;
  try {
    format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) { format = null; }
  if (format) {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      if (el.hasAttribute("data-local")) {
        el.textContent = format.format(when);
      } else if (el.title) {
        // Relative text stays; the exact time is given in the viewer's zone, then UTC.
        el.title = format.format(when) + " (" + el.title + ")";
      }
    });
  }
})();
