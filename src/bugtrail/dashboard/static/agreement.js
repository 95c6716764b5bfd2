// Draws the agreement page's charts from the JSON embedded in the page (setup: charts.js).
(function () {
  "use strict";
  var data = BugtrailCharts.pageData("agreement-data");
  if (!data) { return; }
  var palette = BugtrailCharts.palette;

  function draw(id, type, labels, datasets, options) {
    datasets.forEach(function (set, i) {
      set.backgroundColor = set.backgroundColor || palette[i % palette.length];
      set.borderColor = set.borderColor || palette[i % palette.length];
      set.spanGaps = true;
      set.fill = false;
    });
    BugtrailCharts.draw(id, type, labels, datasets, datasets.length > 1, options);
  }

  var unit = { y: { min: -1, max: 1 } };
  draw("chart-alpha", "bar", data.criteria, [{ label: "alpha", data: data.alpha }], { scales: unit });
  draw("chart-pairs", "bar", data.pairs.labels, [{ label: "kappa", data: data.pairs.kappa }], { indexAxis: "y", scales: { x: { min: -1, max: 1 } } });
  draw("chart-judge-spearman", "bar", data.criteria, data.judges.map(function (j) {
    return { label: j.label, data: j.spearman };
  }), { scales: unit });
  var mae = [];
  data.judges.forEach(function (j) {
    mae.push({ label: j.label + " raw", data: j.mae });
    if (j.mae_calibrated) { mae.push({ label: j.label + " calibrated", data: j.mae_calibrated }); }
  });
  draw("chart-judge-mae", "bar", data.criteria, mae, { scales: { y: { beginAtZero: true } } });
  var weekly = [{ label: "alpha (overall)", data: data.weekly.alpha, yAxisID: "y" }];
  data.weekly.judges.forEach(function (j) { weekly.push({ label: j.label + " MAE", data: j.mae, yAxisID: "mae" }); });
  draw("chart-weekly", "line", data.weekly.labels, weekly, {
    scales: { y: { min: -1, max: 1, position: "left" }, mae: { beginAtZero: true, position: "right" } }
  });
  document.body.dataset.chartsReady = "1";
})();
