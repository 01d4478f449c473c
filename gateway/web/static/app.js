// The workspace's small script: error toasts for htmx requests and the queue's keyboard.
(function () {
  "use strict";

  function toast(html) {
    var box = document.getElementById("flashes");
    if (!box) return;
    var div = document.createElement("div");
    div.innerHTML = html;
    var el = div.firstElementChild || div;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 8000);
  }

  document.addEventListener("htmx:responseError", function (ev) {
    var xhr = ev.detail.xhr;
    var text = xhr.responseText || "";
    if (text.indexOf("flash") >= 0 && text.length < 2000) toast(text);
    else toast('<div class="flash flash-error">Request failed (' + xhr.status + ").</div>");
  });
  document.addEventListener("htmx:sendError", function () {
    toast('<div class="flash flash-error">The server did not answer; try again.</div>');
  });
  // A bulk approval runs within its request: meanwhile its progress fragment polls (it stops
  // by itself when the run ends; on a refused approval it is removed).
  function progressOf(ev) {
    var elt = ev.detail && ev.detail.elt;
    var sel = elt && elt.getAttribute && elt.getAttribute("data-progress");
    return sel ? document.querySelector(sel) : null;
  }
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var box = progressOf(ev);
    if (box) htmx.trigger(box, "plata:start");
  });
  document.addEventListener("htmx:afterRequest", function (ev) {
    var box = progressOf(ev);
    if (box && ev.detail.failed) box.remove();
  });
  // flashes rendered with the page fade after a while
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#flashes .flash").forEach(function (el) {
      setTimeout(function () { el.remove(); }, 8000);
    });
  });

  // ---- the queue's keyboard: j/k move, Enter opens, a accepts the best candidate ----------
  var KEY = "plata.queue.current";

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-item]")); }
  function current() { return document.querySelector("tr[data-item].current"); }

  function focusRow(row) {
    rows().forEach(function (r) { r.classList.remove("current"); });
    if (!row) return;
    row.classList.add("current");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
    var all = rows(), at = all.indexOf(row);
    var after = all[at + 1] || all[at - 1];
    try {
      sessionStorage.setItem(KEY, row.dataset.item);
      sessionStorage.setItem(KEY + ".next", after ? after.dataset.item : "");
    } catch (e) { /* private mode */ }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    focusRow(all[next]);
  }

  // After an action the row leaves: the next one (or the previous, at the end) takes the focus.
  function removeRow(row) {
    var all = rows();
    var at = all.indexOf(row);
    var next = all[at + 1] || all[at - 1] || null;
    row.remove();
    focusRow(next);
  }

  function accept(row) {
    var table = row.closest("table");
    if (!table || table.dataset.accept !== "yes") return;
    var url = "/app/items/" + row.dataset.item + "/accept";
    row.classList.add("busy");
    htmx.ajax("POST", url, { source: row, target: "#flashes", swap: "beforeend" }).then(function () {
      row.classList.remove("busy");
    });
  }

  document.addEventListener("plata:resolved", function (ev) {
    var id = ev.detail && ev.detail.item;
    var row = document.querySelector('tr[data-item="' + id + '"]');
    if (row) removeRow(row);
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") {
      if (ev.key === "Escape") ev.target.blur();
      return;
    }
    if (!document.querySelector("tr[data-item]") && ev.key !== "/") return;
    var row = current();
    if (ev.key === "j") { move(1); ev.preventDefault(); }
    else if (ev.key === "k") { move(-1); ev.preventDefault(); }
    else if (ev.key === "Enter" && row) { window.location = row.dataset.href; ev.preventDefault(); }
    else if (ev.key === "a" && row) { accept(row); ev.preventDefault(); }
    else if (ev.key === "/") {
      var search = document.querySelector("input.search");
      if (search) { search.focus(); ev.preventDefault(); }
    }
  });

  document.addEventListener("click", function (ev) {
    var row = ev.target.closest && ev.target.closest("tr[data-item]");
    if (row) focusRow(row);
  });

  // On load and after each swap of the table: keep the place (the remembered row, else the first).
  function restore() {
    var all = rows();
    if (!all.length) return;
    var remembered = null, following = null;
    try {
      remembered = sessionStorage.getItem(KEY);
      following = sessionStorage.getItem(KEY + ".next");
    } catch (e) { /* private mode */ }
    // the item worked on the item page may have left the queue: then the one after it
    var row = (remembered && document.querySelector('tr[data-item="' + remembered + '"]')) ||
              (following && document.querySelector('tr[data-item="' + following + '"]'));
    focusRow(row || all[0]);
  }
  document.addEventListener("DOMContentLoaded", restore);
  document.addEventListener("htmx:afterSettle", function (ev) {
    if (ev.target && ev.target.id === "queue") restore();
  });

  window.plata = { toast: toast, focusRow: focusRow, removeRow: removeRow };
})();
