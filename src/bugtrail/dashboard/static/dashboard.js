// Draws the overview charts from the JSON embedded in the page (setup: charts.js).
(function () {
  "use strict";
  var data = BugtrailCharts.pageData("dashboard-data");
  if (!data) { return; }
  var palette = BugtrailCharts.palette;

  function draw(id, type, series, options) {
    var colors = type === "doughnut" ? palette : palette[0];
    var dataset = { data: series.values, backgroundColor: colors, borderColor: type === "line" ? palette[0] : undefined, fill: false };
    BugtrailCharts.draw(id, type, series.labels, [dataset], type === "doughnut", options);
  }

  var integerAxis = { y: { beginAtZero: true, ticks: { precision: 0 } } };
  draw("chart-per-day", "line", data.per_day, { scales: integerAxis });
  draw("chart-per-status", "doughnut", data.per_status);
  draw("chart-scores", "bar", data.scores, { scales: integerAxis });
  draw("chart-per-developer", "bar", data.per_developer, { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
  draw("chart-per-repo", "bar", data.per_repo, { indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } });
  document.body.dataset.chartsReady = "1";
})();
