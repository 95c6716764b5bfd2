// Draws the overview charts from the JSON embedded in the page (no inline scripts: strict CSP).
(function () {
  "use strict";
  var node = document.getElementById("dashboard-data");
  if (!node || typeof Chart === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var palette = ["#3b82f6", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#14b8a6", "#ec4899", "#64748b"];
  Chart.defaults.animation = false;  // draw at once: screenshots and slow machines see the final chart
  Chart.defaults.maintainAspectRatio = false;

  function draw(id, type, series, options) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    var colors = type === "doughnut" ? palette : palette[0];
    new Chart(canvas, {
      type: type,
      data: {
        labels: series.labels,
        datasets: [{ data: series.values, backgroundColor: colors, borderColor: type === "line" ? palette[0] : undefined, fill: false }]
      },
      options: Object.assign({ plugins: { legend: { display: type === "doughnut" } } }, options || {})
    });
    canvas.dataset.rendered = "1";
  }

  var integerAxis = { y: { beginAtZero: true, ticks: { precision: 0 } } };
  draw("chart-per-day", "line", data.per_day, { scales: integerAxis });
  draw("chart-per-status", "doughnut", data.per_status);
  draw("chart-scores", "bar", data.scores, { scales: integerAxis });
  draw("chart-per-developer", "bar", data.per_developer, { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
  draw("chart-per-repo", "bar", data.per_repo, { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
  document.body.dataset.chartsReady = "1";
})();
