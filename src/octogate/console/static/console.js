// octogate console: small enhancements over pages that work without JavaScript.
// Loaded as a file (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";

  function drawCharts(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (box) {
      if (box.dataset.drawn) return;
      var source = document.getElementById(box.dataset.chart);
      if (!source) return;
      var data = JSON.parse(source.textContent);
      var series = [{}];
      var columns = [data.x];
      data.series.forEach(function (s) {
        series.push({ label: s.label, stroke: s.colour, fill: s.colour + "22", width: 2, points: { show: false } });
        columns.push(s.values);
      });
      var width = Math.max(280, box.clientWidth || 600);
      var options = {
        width: width, height: 220, series: series,
        scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(4, max)]; } } },
        axes: [{ stroke: "#64748b", grid: { stroke: "#e2e8f0" } }, { stroke: "#64748b", grid: { stroke: "#e2e8f0" } }],
        legend: { show: true },
      };
      box.dataset.drawn = "1";
      var chart = new uPlot(options, columns, box);
      window.addEventListener("resize", function () {
        chart.setSize({ width: Math.max(280, box.clientWidth), height: 220 });
      });
    });
  }

  function wire(root) {
    drawCharts(root);
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.wired) return;
      form.dataset.wired = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (button.dataset.wired) return;
      button.dataset.wired = "1";
      button.addEventListener("click", function () {
        var text = document.getElementById(button.dataset.copy).textContent;
        if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { wire(document); });
  document.addEventListener("htmx:afterSwap", function (event) { wire(event.target); });
})();
