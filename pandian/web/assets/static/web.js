// Progressive enhancement only: every page works without it. Filters apply as soon as a choice changes; the
// compare button is enabled with two or three ticked runs.
(function () {
  "use strict";
  document.querySelectorAll("form.filters select").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  var form = document.getElementById("compare-form");
  if (!form) { return; }
  var button = document.getElementById("compare-button");
  function update() {
    var n = form.querySelectorAll("input[name=runs]:checked").length;
    button.disabled = n < 2 || n > 3;
  }
  form.addEventListener("change", update);
  update();
})();
