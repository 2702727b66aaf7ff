// The dashboard page and its script, served as they are (no build step).
// The script reads the process's own JSON API and its /metrics; it writes
// nothing.

/**
 * The dashboard's HTML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_HTML } from "./_page.ts";
 * assert.match(PAGE_HTML, /<script src="\/ui\/app.js">/);
 * ```
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strata</title>
<link rel="stylesheet" href="/ui/uplot.css">
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #dde1ea; --ok: #2f9e44; --bad: #e03131;
    --open: #1c7ed6; --warn: #f08c00; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); }
  body { margin: 0; background: #f6f7fb; }
  header { display: flex; gap: 1em; align-items: baseline; padding: 12px 20px; background: #1d2330; color: #fff; }
  header h1 { margin: 0; font-size: 18px; }
  header span { color: #b8c0d0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; padding: 14px 20px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
  section h2 { margin: 0 0 8px; font-size: 15px; }
  table { border-collapse: collapse; width: 100%; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 500; }
  .chip { display: inline-block; padding: 0 6px; margin: 1px; border-radius: 8px; font-size: 12px; color: #fff; }
  .committed, .succeeded, .up { background: var(--ok); } .open, .running { background: var(--open); }
  .failed, .down, .gone { background: var(--bad); } .skipped, .retired { background: var(--muted); }
  .bar { position: relative; height: 16px; background: #edf0f5; border-radius: 3px; overflow: hidden; }
  .bar div { height: 100%; background: var(--open); }
  .bar span { position: absolute; inset: 0; font-size: 11px; padding-left: 6px; line-height: 16px; }
  .error { color: var(--bad); font-size: 12px; }
  .muted { color: var(--muted); }
  .chart { min-height: 200px; }
</style>
</head>
<body>
<header><h1>Strata</h1><span id="where"></span><span id="updated"></span></header>
<main>
  <section><h2>Throughput (MB/s)</h2><div id="throughput" class="chart"></div></section>
  <section><h2>Request latency (ms) and rate (/s)</h2><div id="latency" class="chart"></div></section>
  <section><h2>Datasets</h2><table id="datasets"><tr><td class="muted">loading</td></tr></table></section>
  <section><h2>Nodes</h2><div id="nodes"><span class="muted">loading</span></div></section>
  <section><h2>Pipelines</h2><table id="pipelines"><tr><td class="muted">loading</td></tr></table></section>
</main>
<script src="/ui/uplot.js"></script>
<script src="/ui/app.js"></script>
</body>
</html>
`;

/**
 * The dashboard's script.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_JS } from "./_page.ts";
 * assert.match(PAGE_JS, /fetch\("\/metrics"\)/);
 * ```
 */
export const PAGE_JS = String.raw`"use strict";
(function () {
  var POINTS = 150;
  var own = function (r) { return r.indexOf("/metrics") === 0 || r.indexOf("/ui") === 0; };
  var esc = function (s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  };
  var size = function (n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
  };
  var json = function (path) {
    return fetch(path, { headers: { accept: "application/json" } }).then(function (r) {
      return r.ok ? r.json() : Promise.reject(new Error(path + ": " + r.status));
    });
  };
  document.getElementById("where").textContent = location.host;

  // Prometheus text: [{name, labels, value}].
  function parse(text) {
    var out = [];
    text.split("\n").forEach(function (line) {
      if (line === "" || line[0] === "#") return;
      var m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)/.exec(line);
      if (m === null) return;
      var labels = {};
      (m[3] || "").replace(/(\w+)="((?:[^"\\]|\\.)*)"/g, function (_, k, v) { labels[k] = v; });
      out.push({ name: m[1], labels: labels, value: Number(m[4]) });
    });
    return out;
  }
  function sum(samples, name, keep) {
    return samples.reduce(function (a, s) {
      return s.name === name && (keep === undefined || keep(s.labels)) ? a + s.value : a;
    }, 0);
  }
  var api = function (l) { return !own(l.route || ""); };
  function buckets(samples) {
    var b = {};
    samples.forEach(function (s) {
      if (s.name !== "strata_http_request_duration_seconds_bucket" || !api(s.labels)) return;
      b[s.labels.le] = (b[s.labels.le] || 0) + s.value;
    });
    return b;
  }
  function quantile(q, now, before) {
    var les = Object.keys(now).filter(function (k) { return k !== "+Inf"; })
      .map(Number).sort(function (a, b) { return a - b; });
    var total = (now["+Inf"] || 0) - ((before && before["+Inf"]) || 0);
    if (total <= 0) return null;
    for (var i = 0; i < les.length; i++) {
      var k = String(les[i]);
      if ((now[k] || 0) - ((before && before[k]) || 0) >= q * total) return les[i] * 1000;
    }
    return les.length > 0 ? les[les.length - 1] * 1000 : null;
  }

  var series = { t: [], pub: [], att: [], wire: [], mean: [], p95: [], rate: [] };
  function chart(id, names, data) {
    var el = document.getElementById(id);
    var colors = ["#1c7ed6", "#2f9e44", "#f08c00"];
    return new uPlot({
      width: Math.max(el.clientWidth, 360), height: 200,
      series: [{}].concat(names.map(function (n, i) {
        return { label: n, stroke: colors[i], width: 2, spanGaps: true };
      })),
      axes: [{}, { size: 56 }],
    }, data, el);
  }
  var through = chart("throughput", ["published", "attached", "data plane in+out"],
    [series.t, series.pub, series.att, series.wire]);
  var latency = chart("latency", ["mean ms", "p95 ms", "requests/s"],
    [series.t, series.mean, series.p95, series.rate]);

  var last = null;
  function scrape() {
    return fetch("/metrics").then(function (r) { return r.text(); }).then(function (text) {
      var s = parse(text), t = Date.now() / 1000;
      var now = {
        t: t,
        pub: sum(s, "strata_published_bytes_total"),
        att: sum(s, "strata_attached_bytes_total"),
        wire: sum(s, "strata_wire_bytes_total"),
        lsum: sum(s, "strata_http_request_duration_seconds_sum", api),
        count: sum(s, "strata_http_request_duration_seconds_count", api),
        buckets: buckets(s),
      };
      if (last !== null) {
        var dt = now.t - last.t, n = now.count - last.count;
        series.t.push(t);
        series.pub.push((now.pub - last.pub) / dt / 1e6);
        series.att.push((now.att - last.att) / dt / 1e6);
        series.wire.push((now.wire - last.wire) / dt / 1e6);
        series.mean.push(n > 0 ? (now.lsum - last.lsum) / n * 1000 : null);
        series.p95.push(quantile(0.95, now.buckets, last.buckets));
        series.rate.push(n / dt);
        Object.keys(series).forEach(function (k) {
          if (series[k].length > POINTS) series[k].shift();
        });
        through.setData([series.t, series.pub, series.att, series.wire]);
        latency.setData([series.t, series.mean, series.p95, series.rate]);
      }
      last = now;
    });
  }

  // Datasets shown, each with a request for its versions at every refresh.
  var SHOWN = 50;

  function datasets() {
    var more = false;
    return json("/v1/datasets?limit=" + SHOWN).then(function (d) {
      more = d.next !== undefined;
      return Promise.all(d.datasets.map(function (ds) {
        // The newest: from a dozen below the latest committed version (open ones above it too).
        return json("/v1/datasets/" + encodeURIComponent(ds.name) + "/versions?after=" +
          Math.max(0, (ds.latest || 0) - 12))
          .then(function (v) { return { ds: ds, versions: v.versions }; },
            function () { return { ds: ds, versions: [] }; });
      }));
    }).then(function (rows) {
      var html = "<tr><th>dataset</th><th>latest</th><th>keeps</th><th>versions</th></tr>";
      rows.forEach(function (r) {
        html += "<tr><td>" + esc(r.ds.name) + "</td><td>" + esc(r.ds.latest === null ? "-" : r.ds.latest) +
          "</td><td>" + esc(r.ds.retention) + "</td><td>" + r.versions.slice(-12).map(function (v) {
            return '<span class="chip ' + esc(v.state) + '" title="' + esc(v.state + ", " + size(v.bytes || 0)) +
              '">' + esc(v.version) + "</span>";
          }).join("") + "</td></tr>";
      });
      if (rows.length === 0) html += '<tr><td colspan="4" class="muted">no datasets</td></tr>';
      if (more) {
        html += '<tr><td colspan="4" class="muted">the first ' + SHOWN +
          " datasets by name; more follow (GET /v1/datasets?after=...)</td></tr>";
      }
      document.getElementById("datasets").innerHTML = html;
    });
  }

  function nodes() {
    return json("/v1/nodes").then(function (d) {
      var html = "";
      d.nodes.forEach(function (n) {
        html += '<div class="node"><b>' + esc(n.id) + '</b> <span class="chip ' + esc(n.state || "up") + '">' +
          esc(n.state || "up") + '</span> <span class="muted">' + esc(n.url || "") + "</span><table>";
        (n.tiers || []).forEach(function (t) {
          var pct = t.capacity > 0 ? Math.min(100, 100 * t.used / t.capacity) : 0;
          html += "<tr><td>" + esc(t.name) + '</td><td style="width:70%"><div class="bar"><div style="width:' +
            pct.toFixed(2) + '%"></div><span>' + esc(size(t.used) + " of " + size(t.capacity) +
              (t.count === undefined ? "" : ", " + t.count + " copies")) + "</span></div></td></tr>";
        });
        html += "</table></div>";
      });
      document.getElementById("nodes").innerHTML = html || '<span class="muted">no nodes</span>';
    });
  }

  function pipelines() {
    return json("/v1/pipelines").then(function (d) {
      return Promise.all(d.pipelines.map(function (p) {
        return json("/v1/pipelines/" + encodeURIComponent(p.name));
      }));
    }).then(function (ps) {
      var html = "<tr><th>pipeline</th><th>source -> function</th><th>recent runs</th></tr>";
      ps.forEach(function (p) {
        var runs = (p.runs || []).slice(-10);
        html += "<tr><td>" + esc(p.name) + "</td><td>" + esc(p.source + " -> " + p.function) + "</td><td>" +
          runs.map(function (r) {
            return '<span class="chip ' + esc(r.state) + '" title="' + esc(r.state + (r.error ? ": " + r.error : "")) +
              '">' + esc(r.version) + "</span>";
          }).join("") + runs.filter(function (r) { return r.error; }).slice(-3).map(function (r) {
            return '<div class="error">v' + esc(r.version) + ": " + esc(r.error) + "</div>";
          }).join("") + "</td></tr>";
      });
      if (ps.length === 0) html += '<tr><td colspan="3" class="muted">no pipelines</td></tr>';
      document.getElementById("pipelines").innerHTML = html;
    }, function () {
      document.getElementById("pipelines").innerHTML = '<tr><td class="muted">no pipelines here</td></tr>';
    });
  }

  function refresh() {
    return Promise.allSettled([datasets(), nodes(), pipelines()]).then(function () {
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.setAttribute("data-ready", "true");
    });
  }
  scrape().then(refresh);
  setInterval(scrape, 2000);
  setInterval(refresh, 5000);
})();
`;
