// Chart setup shared by the dashboard's pages: the page's embedded JSON, Chart.js defaults, one draw().
// Loaded after chart.umd.min.js and before the page's own script (no inline scripts: strict CSP).
var BugtrailCharts = (function () {
  "use strict";
  var palette = ["#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#ec4899", "#64748b"];

  // The JSON in <script type="application/json" id=...>, or null when the page has none or Chart.js is
  // missing (then the page's tables stand alone).
  function pageData(id) {
    var node = document.getElementById(id);
    if (!node || typeof Chart === "undefined") { return null; }
    Chart.defaults.animation = false;  // draw at once: screenshots and slow machines see the final chart
    Chart.defaults.maintainAspectRatio = false;
    return JSON.parse(node.textContent);
  }

  function draw(id, type, labels, datasets, legend, options) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: type,
      data: { labels: labels, datasets: datasets },
      options: Object.assign({ plugins: { legend: { display: legend } } }, options || {})
    });
    canvas.dataset.rendered = "1";
  }

  return { palette: palette, pageData: pageData, draw: draw };
})();
