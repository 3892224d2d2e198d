// Draws the dashboard's charts with Chart.js from the page's json_script data (no inline scripts).
// Every <canvas data-chart="id"> gets one line chart; one dataset per prompt version (or label group).
// How a chart is drawn (axis maximum, smoothing) comes with it from dashboard/charts.py: its kind.
// Every text (titles, legends, markers, days) comes translated in the data; numbers are formatted here in the page's
// language (<html lang>): "98,2 %" and "0,0012 $" in German, "98.2%" and "$0.0012" in English.
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
  const locale = document.documentElement.lang || undefined;

  function label(index) {
    const day = data.day_labels[index];
    return index === partial ? day + " " + data.texts.so_far : day;
  }

  // One formatter per unit; a rate is plotted as 0..100, Intl's percent style wants 0..1.
  const formats = {
    "%": [new Intl.NumberFormat(locale, {style: "percent", maximumFractionDigits: 2}), 0.01],
    USD: [new Intl.NumberFormat(locale, {style: "currency", currency: "USD", maximumFractionDigits: 6}), 1],
    ms: [new Intl.NumberFormat(locale, {style: "unit", unit: "millisecond", maximumFractionDigits: 1}), 1],
    "": [new Intl.NumberFormat(locale, {maximumFractionDigits: 3}), 1],
  };

  function formatValue(value, unit) {
    if (value === null || value === undefined) {
      return "–";
    }
    const [format, scale] = formats[unit] || formats[""];
    return format.format(value * scale);
  }

  // Activations grey, a canary's start blue, its rollback or stop red (dotted, so not by colour alone).
  const markerStyles = {
    activation: {colour: "#6f6f6f", dash: [6, 4]},
    canary: {colour: "#0072B2", dash: [6, 4]},
    canary_end: {colour: "#D55E00", dash: [2, 3]},
  };

  const LABEL_HEIGHT = 22; // px: one marker label (11 px text with its padding) and a gap
  const POINT_ROOM = 6; // px around the plot for the biggest point (today's, radius 5), so none is cut off

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
        // Markers of one day share a line: each further one's label sits one line lower.
        label: {
          display: true, content: marker.label, position: "start", font: {size: 11},
          yAdjust: (marker.stack || 0) * LABEL_HEIGHT,
        },
      };
    });
    return annotations;
  }

  data.charts.forEach(function (chart) {
    const canvas = document.querySelector('canvas[data-chart="' + chart.id + '"]');
    if (!canvas) {
      return;
    }
    const unit = chart.unit || "";
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels.map(function (_, index) { return label(index); }),
        datasets: chart.datasets.map(function (dataset, n) {
          const colour = palette[(dataset.version ? dataset.version - 1 : n) % palette.length];
          return Object.assign({
            label: dataset.label,
            data: dataset.data,
            borderColor: colour,
            backgroundColor: colour,
            spanGaps: false,
            // Points on the plot's edges (today's, the last; a rate of 100 %) are drawn whole.
            clip: POINT_ROOM,
            pointRadius: function (context) { return context.dataIndex === partial ? 5 : 2; },
            // Today's point is hollow: the day is not over yet.
            pointBackgroundColor: function (context) { return context.dataIndex === partial ? "#ffffff" : colour; },
          }, chart.line);
        }),
      },
      options: {
        // Chart.js formats any number it writes itself in the page's language too.
        locale: locale,
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: {mode: "index", intersect: false},
        layout: {padding: {top: POINT_ROOM, right: POINT_ROOM}},
        scales: {
          // Fewer date labels on a phone, so they never overlap.
          x: {ticks: {maxRotation: 0, autoSkip: true, maxTicksLimit: canvas.clientWidth < 500 ? 4 : 8}},
          // A rate's axis ends at 100 %, a ratio's at 1 (chart.y_max); other axes end where the data does.
          y: Object.assign(
            {beginAtZero: chart.from_zero, ticks: {callback: function (value) { return formatValue(value, unit); }}},
            chart.y_max === null ? {} : {max: chart.y_max}
          ),
        },
        plugins: {
          legend: {position: "bottom"},
          tooltip: {
            callbacks: {
              label: function (context) { return context.dataset.label + ": " + formatValue(context.parsed.y, unit); },
            },
          },
          annotation: {annotations: markerAnnotations()},
        },
      },
    });
  });
})();
