// The supervisor dashboard, live: the page listens to /live (Server-Sent Events) and,
// on an SLA alert, fetches the panel again (rendered and escaped by the server) and
// lists the alert with textContent. Nothing a customer wrote is ever parsed as script.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var GAP_MS = 1000;  // at most one refresh a second, however many events arrive
  var running = false;
  var again = false;

  // Fetches the panel again; events during a fetch lead to one more fetch after it, so
  // the page ends up current without a request per event.
  function reloadPanel() {
    if (running) { again = true; return; }
    running = true;
    // The same period as the page (?days=), so the bot's figures keep to it.
    fetch("/supervisor/panel" + window.location.search, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401 || r.redirected) { window.location.assign("/login?next=" + encodeURIComponent("/supervisor" + window.location.search)); }
      if (!r.ok) { throw new Error("The dashboard could not be refreshed (" + r.status + ")."); }
      return r.text();
    }).then(function (html) {
      var parsed = new DOMParser().parseFromString(html, "text/html");
      $("panel").replaceChildren.apply($("panel"), Array.prototype.slice.call(parsed.body.childNodes));
    }).catch(function (err) { $("live-state").textContent = err.message; })
      .then(function () {
        setTimeout(function () {
          running = false;
          if (again) { again = false; reloadPanel(); }
        }, GAP_MS);
      });
  }

  function alertLine(data) {
    var words = { sla_warning: "warning", sla_breached: "breached", sla_escalated: "escalated", unanswered: "unanswered" };
    var item = document.createElement("li");
    item.className = data.kind === "sla_warning" ? "sla-warning" : "sla-breached";
    item.textContent = (words[data.kind] || data.kind) + ": " + data.ticket + " (" + data.team +
      "), " + String(data.target || "").replace("_", " ");
    $("live-alerts").insertBefore(item, $("live-alerts").firstChild);
  }

  // Charts, drawn by the bundled Chart.js from /supervisor/charts.json (numbers only).
  var charts = {};
  function drawCharts() {
    return fetch("/supervisor/charts.json", { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) { throw new Error("The charts could not be loaded (" + r.status + ")."); }
      return r.json();
    }).then(function (data) {
      var labels = data.days.map(function (d) { return d.slice(5); });
      var palette = ["#1f5fd6", "#d97706", "#059669", "#b3261e", "#7c3aed", "#0891b2", "#4a5368"];
      function colour(i) { return palette[i % palette.length]; }
      function volume(series) {
        return {
          type: "bar",
          data: {
            labels: labels,
            datasets: Object.keys(series).map(function (name, i) {
              return { label: name, data: series[name], backgroundColor: colour(i) };
            })
          },
          options: { animation: false, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } }
        };
      }
      function hours(medians) {
        var keys = Object.keys(medians);
        return {
          type: "bar",
          data: {
            labels: keys,
            datasets: [{
              label: "hours",
              data: keys.map(function (k) { return medians[k]; }),
              backgroundColor: keys.map(function (k, i) { return colour(i); })
            }]
          },
          options: { animation: false, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true } } }
        };
      }
      [["volume-channel-chart", volume(data.volume_by_channel)],
       ["volume-team-chart", volume(data.volume_by_team)],
       ["response-team-chart", hours(data.first_response_hours_by_team)],
       ["response-channel-chart", hours(data.first_response_hours_by_channel)]].forEach(function (pair) {
        if (charts[pair[0]]) { charts[pair[0]].destroy(); }
        charts[pair[0]] = new window.Chart($(pair[0]), pair[1]);
      });
      document.body.setAttribute("data-charts", "drawn");
    }).catch(function (err) { $("live-state").textContent = err.message; });
  }
  drawCharts();

  var source = new EventSource("/live");
  source.addEventListener("open", function () { $("live-state").textContent = "live"; });
  source.addEventListener("error", function () { $("live-state").textContent = "reconnecting…"; });
  source.addEventListener("sla", function (event) {
    alertLine(JSON.parse(event.data));
    reloadPanel();
  });
  source.addEventListener("conversation", function () { reloadPanel(); });
  source.addEventListener("reload", function () { window.location.reload(); });
}());
