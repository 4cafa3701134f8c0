// tollguard console: live updates of the incident list. Every field is written with textContent,
// never as HTML: subjects, summaries and rules may come from attackers.
"use strict";
(function () {
  const table = document.getElementById("incidents");
  if (!table) return;
  const body = table.querySelector("tbody");
  const filters = JSON.parse(table.dataset.filters || "{}");
  const MAX_ROWS = 500;
  const sort = filters.sort || "severity";
  const wanted = filters.status === "closed" ? "quiet" : filters.status;

  function keeps(i) {
    if (filters.tenant && i.tenant !== filters.tenant) return false;
    if (filters.severity && i.severity !== filters.severity) return false;
    if (filters.rule && !(i.rules || []).includes(filters.rule)) return false;
    if (wanted && String(i.shown_status || "").split(" ")[0] !== wanted) return false;
    if (filters.q) {
      const q = filters.q.toLowerCase();
      if (!String(i.subject || "").toLowerCase().includes(q) && !String(i.summary || "").toLowerCase().includes(q)
          && !String(i.campaign || "").toLowerCase().includes(q)) return false;
    }
    return true;
  }

  function cell(row, cls, text) {
    const td = document.createElement("td");
    td.className = cls;
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function render(i) {
    const row = document.createElement("tr");
    row.dataset.id = i.incident_id;
    row.dataset.order = JSON.stringify((i.order || {})[sort] || []);
    row.className = "sev-" + String(i.severity).replace(/[^a-z]/g, "") + " fresh";
    cell(row, "opened", i.opened_shown || "");
    cell(row, "severity", i.severity);
    cell(row, "status", i.shown_status || "");
    cell(row, "tenant", i.tenant);
    const subject = cell(row, "subject", "");
    const link = document.createElement("a");
    link.href = "/incident/" + encodeURIComponent(i.incident_id);
    link.textContent = i.subject_type + ":" + i.subject;
    subject.appendChild(link);
    if (i.campaign) {  // a campaign's size, under its window
      const span = document.createElement("span");
      span.className = "muted campaign";
      span.textContent = i.campaign;
      subject.appendChild(document.createElement("br"));
      subject.appendChild(span);
    }
    cell(row, "rules", (i.rules || []).join(", "));
    cell(row, "cost", typeof i.cost === "number" ? i.cost.toLocaleString("en", {minimumFractionDigits: 2, maximumFractionDigits: 2}) : "");
    cell(row, "summary", i.summary || "");
    return row;
  }

  function before(a, b) {  // the server's sort keys (numbers), compared in order: does a come first?
    for (let k = 0; k < Math.min(a.length, b.length); k++) if (a[k] !== b[k]) return a[k] < b[k];
    return a.length < b.length;
  }

  function apply(i) {
    const old = Array.from(body.rows).find(r => r.dataset.id === i.incident_id);
    if (old) old.remove();
    if (!keeps(i)) { document.getElementById("shown").textContent = String(body.rows.length); return; }
    const row = render(i);
    const key = JSON.parse(row.dataset.order);
    const next = Array.from(body.rows).find(r => r.dataset.order && before(key, JSON.parse(r.dataset.order)));
    body.insertBefore(row, next || null);  // in the page's order, as the server sorts
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);  // the page holds the first, as the server does
    document.getElementById("shown").textContent = String(body.rows.length);
  }

  const source = new EventSource("/events?since=" + encodeURIComponent(table.dataset.seq || "0"));
  source.addEventListener("incident", e => apply(JSON.parse(e.data)));
  source.addEventListener("logout", () => { source.close(); window.location = "/login"; });
  document.body.dataset.live = "yes";
})();
