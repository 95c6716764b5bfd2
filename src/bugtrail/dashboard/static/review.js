// Keyboard for the review form (no inline scripts: strict CSP). 1-5 score the focused criterion and move
// to the next (after the last, to the decision); a / r / n pick the decision and move to the reason;
// Ctrl+Enter (or Cmd+Enter) submits. Keys typed into a text field stay text. Until the reviewer edits it,
// overall follows the mean of the criteria.
(function () {
  "use strict";
  var form = document.getElementById("review-form");
  if (!form) { return; }
  var criteria = Array.prototype.slice.call(form.querySelectorAll("fieldset.criterion"));
  var overall = document.getElementById("overall");
  var overallEdited = overall.value !== "";

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio");
  }

  function criterionOf(node) {
    while (node && node !== form) {
      if (node.classList && node.classList.contains("criterion")) { return node; }
      node = node.parentNode;
    }
    return null;
  }

  function firstUnscored() {
    for (var i = 0; i < criteria.length; i++) {
      if (!criteria[i].querySelector("input:checked")) { return criteria[i]; }
    }
    return null;
  }

  function updateOverall() {
    if (overallEdited) { return; }
    var sum = 0, count = 0;
    criteria.forEach(function (fieldset) {
      var checked = fieldset.querySelector("input:checked");
      if (checked) { sum += Number(checked.value); count += 1; }
    });
    if (count === criteria.length) { overall.value = (Math.round((sum / count) * 10) / 10).toFixed(1); }
  }

  function score(fieldset, value) {
    var radio = fieldset.querySelector('input[value="' + value + '"]');
    if (!radio) { return; }
    radio.checked = true;
    fieldset.classList.remove("invalid");
    updateOverall();
    var next = criteria[criteria.indexOf(fieldset) + 1];
    if (next) { next.focus(); return; }
    (form.querySelector('input[name="decision"]:checked') || form.querySelector('input[name="decision"]')).focus();
  }

  form.addEventListener("change", function (event) {
    if (event.target === overall) { overallEdited = true; }
    if (criterionOf(event.target)) { updateOverall(); }
  });
  overall.addEventListener("input", function () { overallEdited = overall.value !== ""; });

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      if (form.reportValidity()) { form.requestSubmit(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key >= "1" && event.key <= "5") {
      var fieldset = criterionOf(event.target) || firstUnscored();
      if (fieldset) { event.preventDefault(); score(fieldset, event.key); }
      return;
    }
    var key = event.key.toLowerCase();
    if (key.length !== 1 || "arn".indexOf(key) < 0) { return; }
    var decision = form.querySelector('input[name="decision"][data-key="' + key + '"]');
    if (decision) {
      event.preventDefault();
      decision.checked = true;
      var reason = document.getElementById("reason");
      (reason.value ? decision : reason).focus();
    }
  });

  if (criteria.length && !document.getElementById("form-errors")) { (firstUnscored() || criteria[0]).focus(); }
  document.body.dataset.reviewReady = "1";
})();
