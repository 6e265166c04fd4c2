// Draws the report's plots and, when the report embeds records, its question browser. Every value is set as
// text (textContent), never as HTML: model output and benchmark data are untrusted.
(function () {
  "use strict";
  var figures = JSON.parse(document.getElementById("figures").textContent);
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var fig = figures[el.getAttribute("data-figure")];
    if (!fig) { return; }
    Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true}).then(function () {
      el.setAttribute("data-rendered", "true");
    });
  });

  var records = JSON.parse(document.getElementById("records-data").textContent);
  var body = document.getElementById("record-rows");
  if (!body) { return; }
  var run = document.getElementById("record-run");
  var outcome = document.getElementById("record-outcome");
  var search = document.getElementById("record-search");
  var count = document.getElementById("record-count");
  var SHOWN = 200;

  function cell(row, text, tag) {
    var td = document.createElement("td");
    if (tag) {
      var inner = document.createElement(tag);
      inner.textContent = text;
      td.appendChild(inner);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function matches(r, want, needle) {
    if (want === "right" && r.correct !== 1) { return false; }
    if (want === "wrong" && r.correct !== 0) { return false; }
    if (!needle) { return true; }
    return [r.qid, r.subject, r.pred, r.gold, r.response].some(function (v) {
      return v != null && String(v).toLowerCase().indexOf(needle) >= 0;
    });
  }

  function draw() {
    var all = records[run.value] || [];
    var needle = search.value.trim().toLowerCase();
    var hits = all.filter(function (r) { return matches(r, outcome.value, needle); });
    body.replaceChildren();
    hits.slice(0, SHOWN).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.className = r.correct === 1 ? "right" : (r.correct === 0 ? "wrong" : "");
      cell(tr, r.qid, "code");
      cell(tr, r.subject);
      cell(tr, r.gold == null ? "–" : r.gold);
      cell(tr, r.pred);
      cell(tr, r.response != null ? r.response :
        (r.logprobs || []).map(function (x) { return x == null ? "–" : x.toFixed(3); }).join("  "), "pre");
      body.appendChild(tr);
    });
    count.textContent = hits.length + " of " + all.length + " questions" +
      (hits.length > SHOWN ? " (first " + SHOWN + " shown)" : "");
  }
  [run, outcome].forEach(function (el) { el.addEventListener("change", draw); });
  search.addEventListener("input", draw);
  document.getElementById("record-filters").addEventListener("submit", function (e) { e.preventDefault(); });
  draw();
})();
