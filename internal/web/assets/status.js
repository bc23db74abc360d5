// Keeps the "where your changes are" panel current: it asks the server
// for the delivery state every few seconds while something is pending.
(function () {
  "use strict";
  function render(box, items) {
    if (!items.length) {
      box.innerHTML = "";
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = "Your account is not copied to any other directory.";
      box.appendChild(p);
      return;
    }
    var table = document.createElement("table");
    table.innerHTML = '<thead><tr><th scope="col">Directory</th><th scope="col">State</th><th scope="col">Details</th></tr></thead>';
    var body = document.createElement("tbody");
    items.forEach(function (s) {
      var tr = document.createElement("tr");
      var d = document.createElement("td"); d.textContent = s.directory;
      var st = document.createElement("td");
      var b = document.createElement("span"); b.className = "badge " + s.state; b.textContent = s.state; st.appendChild(b);
      var r = document.createElement("td"); r.className = "muted"; r.textContent = s.reason || "";
      tr.appendChild(d); tr.appendChild(st); tr.appendChild(r);
      body.appendChild(tr);
    });
    table.appendChild(body);
    box.innerHTML = "";
    box.appendChild(table);
  }
  function poll(box) {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (items) {
        if (!items) { return; }
        render(box, items);
        var busy = items.some(function (s) { return s.state === "pending" || s.state === "failed"; });
        setTimeout(function () { poll(box); }, busy ? 2000 : 10000);
      })
      .catch(function () { setTimeout(function () { poll(box); }, 10000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("status");
    if (box) { poll(box); }
  });
})();
