// Draws the dashboard's charts with Chart.js from the page's json_script data (no inline scripts).
// Every <canvas data-chart="id"> gets one line chart; one dataset per prompt version (or label group).
"use strict";

(function () {
  const source = document.getElementById("dashboard-chart-data");
  if (!source || !window.Chart) {
    return;
  }
  const data = JSON.parse(source.textContent);
  // Colour-blind-safe palette (Okabe–Ito); versions keep their colour across all charts of a page.
  const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const partial = data.partial_index;

  function label(index) {
    return index === partial ? data.labels[index] + " (so far)" : data.labels[index];
  }

  // Activations grey, a canary's start blue, its rollback or stop red (dotted, so not by colour alone).
  const markerStyles = {
    activation: {colour: "#6f6f6f", dash: [6, 4]},
    canary: {colour: "#0072B2", dash: [6, 4]},
    canary_end: {colour: "#D55E00", dash: [2, 3]},
  };

  function markerAnnotations() {
    const annotations = {};
    data.markers.forEach(function (marker, n) {
      const style = markerStyles[marker.kind] || markerStyles.activation;
      annotations["marker" + n] = {
        type: "line",
        scaleID: "x",
        value: marker.index,
        borderColor: style.colour,
        borderDash: style.dash,
        borderWidth: 2,
        label: {display: true, content: marker.label, position: "start", font: {size: 11}},
      };
    });
    return annotations;
  }

  data.charts.forEach(function (chart) {
    const canvas = document.querySelector('canvas[data-chart="' + chart.id + '"]');
    if (!canvas) {
      return;
    }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels.map(function (_, index) { return label(index); }),
        datasets: chart.datasets.map(function (dataset, n) {
          const colour = palette[(dataset.version ? dataset.version - 1 : n) % palette.length];
          return {
            label: dataset.label,
            data: dataset.data,
            borderColor: colour,
            backgroundColor: colour,
            spanGaps: false,
            tension: 0.2,
            pointRadius: function (context) { return context.dataIndex === partial ? 5 : 2; },
            // Today's point is hollow: the day is not over yet.
            pointBackgroundColor: function (context) { return context.dataIndex === partial ? "#ffffff" : colour; },
          };
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: {mode: "index", intersect: false},
        scales: {
          // Fewer date labels on a phone, so they never overlap.
          x: {ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: canvas.clientWidth < 500 ? 4 : 8}},
          y: {beginAtZero: chart.from_zero},
        },
        plugins: {
          legend: {position: "bottom"},
          annotation: {annotations: markerAnnotations()},
        },
      },
    });
  });
})();
