// The console's pages: fetch JSON from /api/, render with textContent (never innerHTML), poll for changes.
"use strict";

const main = document.getElementById("page");
const POLL_MS = Number(main.dataset.pollMs) || 1500;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

// Plotly renders a small set of HTML tags inside its text: escape user strings (labels, stream ids) for it.
function plotlyText(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${(seconds / 3600).toFixed(1)} h ago`;
}

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds - minutes * 60;
  return `${String(minutes).padStart(2, "0")}:${rest.toFixed(1).padStart(4, "0")}`;
}

function link(path, params, text) {
  return el("a", { href: `${path}?${new URLSearchParams(params)}`, text });
}

function fillTable(tableId, rows, emptyId) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren(...rows);
  document.getElementById(emptyId).hidden = rows.length > 0;
  document.getElementById(tableId).hidden = rows.length === 0;
}

async function getJSON(url) {
  const reply = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  if (!reply.ok) throw new Error(`${url}: HTTP ${reply.status}`);
  return reply.json();
}

function poll(load) {
  let last = "";
  const tick = async () => {
    try {
      const data = await getJSON(load.url());
      const text = JSON.stringify(data);
      if (text !== last) {  // re-render only on change: keeps the chart's zoom and open <details>
        last = text;
        load.render(data);
      }
      main.dataset.updated = String(Date.now());
    } catch (error) {
      console.error(error);
    }
    setTimeout(tick, POLL_MS);
  };
  tick();
}

const LAYOUT = {
  margin: { l: 50, r: 20, t: 20, b: 40 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
  font: { size: 12 },
};
const PLOT_CONFIG = { displaylogo: false, responsive: true };

// ---- streams ----------------------------------------------------------------------------------
const views = {};

views.streams = {
  url: () => "/api/streams",
  render(data) {
    fillTable("streams", data.streams.map((s) => el("tr", { "data-stream-id": s.stream_id },
      el("td", {}, link("/stream", { id: s.stream_id }, s.stream_id)),
      el("td", {}, el("span", { className: `health ${s.health}`, text: s.health })),
      el("td", { text: age(s.age_seconds), title: s.last_record_at }),
      el("td", { text: s.last_segment_seq }),
      el("td", { text: s.records }),
      el("td", { text: s.records_last_hour }),
      el("td", { text: s.open_episodes }),
    )), "streams-empty");
    const now = new Date();
    const hours = [...Array(24).keys()].map((i) => {
      const at = new Date(now.getTime() - (23 - i) * 3600e3);
      return `${String(at.getHours()).padStart(2, "0")}:00`;
    });
    const traces = data.streams.map((s) => ({
      type: "bar", name: plotlyText(s.stream_id), x: hours, y: s.records_per_hour,
    }));
    Plotly.react("records-per-hour", traces, {
      ...LAYOUT, barmode: "stack", height: 240, yaxis: { title: { text: "records" } }, showlegend: true,
    }, PLOT_CONFIG);
  },
};

// ---- one stream -------------------------------------------------------------------------------
function timelineTraces(data) {
  const byLabel = new Map();
  const group = (label) => {
    if (!byLabel.has(label)) byLabel.set(label, { segX: [], segY: [], segText: [], clipX: [], clipY: [], clipText: [] });
    return byLabel.get(label);
  };
  for (const s of data.segments) {
    const g = group(s.label);
    const text = plotlyText(`segment ${s.segment_seq}: ${s.label} ${s.probability.toFixed(3)}`);
    g.segX.push(s.start_s, s.end_s, null);
    g.segY.push(s.probability, s.probability, null);
    g.segText.push(text, text, null);
    for (const c of s.clips) {
      const cg = group(c.label);
      cg.clipX.push((c.start_s + c.end_s) / 2);
      cg.clipY.push(c.probability);
      cg.clipText.push(plotlyText(`clip ${clock(c.start_s)}-${clock(c.end_s)}: ${c.label} ${c.probability.toFixed(3)}`));
    }
  }
  const traces = [];
  let index = 0;
  for (const [label, g] of byLabel) {
    const color = COLORS[index++ % COLORS.length];
    const name = plotlyText(label);
    if (g.segX.length) {
      traces.push({ type: "scatter", mode: "lines", name, legendgroup: name, x: g.segX, y: g.segY, text: g.segText,
        hoverinfo: "text", line: { color, width: 4 }, connectgaps: false });
    }
    if (g.clipX.length) {
      traces.push({ type: "scatter", mode: "markers", name: `${name} (clips)`, legendgroup: name, showlegend: false,
        x: g.clipX, y: g.clipY, text: g.clipText, hoverinfo: "text", marker: { color, size: 8, symbol: "circle-open" } });
    }
  }
  if (data.episodes.length) {
    const streamEnd = Math.max(0, ...data.segments.map((s) => s.end_s));  // an open episode runs to the latest segment
    traces.push({
      type: "bar", orientation: "h", name: "episodes", yaxis: "y2",
      base: data.episodes.map((e) => e.start_seconds),
      x: data.episodes.map((e) => Math.max((e.end_seconds ?? streamEnd) - e.start_seconds, 0.5)),
      y: data.episodes.map((e) => plotlyText(e.label)),
      text: data.episodes.map((e) => plotlyText(`${e.label} ${e.status} peak ${Number(e.peak_probability).toFixed(3)}`)),
      hoverinfo: "text", textposition: "none", marker: { color: "rgba(31,119,180,0.6)" },
    });
  }
  return traces;
}

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

function episodeCard(e) {
  const times = `${clock(e.start_seconds)} - ${e.end_seconds === null || e.end_seconds === undefined ? "open" : clock(e.end_seconds)}`;
  return el("article", { className: `episode ${e.status}`, "data-episode-id": e.episode_id },
    el("h3", {}, el("span", { className: "label", text: e.label }), ` ${times}`),
    el("p", { className: "note", text: `${e.status}${e.close_reason ? ` (${e.close_reason})` : ""}, peak ${Number(e.peak_probability).toFixed(3)}, ${e.segment_count ?? "?"} segments` }),
    e.snapshot_url ? el("img", { src: e.snapshot_url, alt: `snapshot of ${e.label}`, className: "snapshot" }) : null,
    e.clip_url ? el("video", { src: e.clip_url, controls: true, preload: "metadata", muted: true, className: "clip" }) : null,
  );
}

views.stream = {
  url: () => `/api/stream?${new URLSearchParams({ id: main.dataset.streamId })}`,
  render(data) {
    document.getElementById("random-weights").hidden = !data.segments.some((s) => s.random_weights);
    const hasEpisodes = data.episodes.length > 0;
    const layout = {
      ...LAYOUT, height: hasEpisodes ? 460 : 380, hovermode: "closest",
      xaxis: { title: { text: "stream time (s)" }, rangeslider: { thickness: 0.08 } },
      yaxis: { title: { text: "probability" }, range: [0, 1.05], domain: hasEpisodes ? [0, 0.68] : [0, 1] },
      legend: { orientation: "h", y: -0.35 },
    };
    if (hasEpisodes) layout.yaxis2 = { domain: [0.75, 1], type: "category", title: { text: "episodes" } };
    const chart = document.getElementById("timeline");
    if (chart.layout && chart.layout.xaxis && !chart.layout.xaxis.autorange) {
      layout.xaxis.range = chart.layout.xaxis.range;  // keep the user's zoom across updates
    }
    Plotly.react(chart, timelineTraces(data), layout, PLOT_CONFIG);
    fillTable("segments", data.segments.slice().reverse().map((s) => el("tr", { "data-segment-seq": s.segment_seq },
      el("td", { text: s.segment_seq }),
      el("td", { text: `${clock(s.start_s)}-${clock(s.end_s)}` }),
      el("td", { className: "label", text: s.label }),
      el("td", { text: s.probability.toFixed(4) }),
      el("td", { text: s.clips.map((c) => `${c.label} ${c.probability.toFixed(2)}`).join(", ") }),
      el("td", {}, s.execution_arn ? link("/execution", { arn: s.execution_arn }, s.created_at || "") : s.created_at || ""),
    )), "segments-empty");
    const container = document.getElementById("episodes");
    // Replace only new or changed episodes so that a playing clip keeps playing.
    const seen = new Set();
    for (const e of data.episodes) {
      seen.add(e.episode_id);
      const key = JSON.stringify([e.status, e.end_seconds, e.peak_probability, e.snapshot_uri, e.clip_uri]);
      const existing = [...container.children].find((c) => c.dataset.episodeId === e.episode_id);
      if (existing && existing.dataset.key === key) continue;
      const card = episodeCard(e);
      card.dataset.key = key;
      if (existing) existing.replaceWith(card); else container.prepend(card);
    }
    for (const child of [...container.children]) if (!seen.has(child.dataset.episodeId)) child.remove();
    document.getElementById("episodes-empty").hidden = hasEpisodes;
  },
};

// ---- executions -------------------------------------------------------------------------------
views.executions = {
  url: () => "/api/executions",
  render(data) {
    fillTable("executions", data.executions.map((x) => el("tr", { "data-execution-arn": x.execution_arn },
      el("td", { text: x.started_at }),
      el("td", {}, el("span", { className: `status ${x.status.toLowerCase()}`, text: x.status })),
      el("td", { text: x.duration_seconds === null ? "running" : `${x.duration_seconds.toFixed(2)} s` }),
      el("td", { className: "id", text: x.object_key || "" }),
      el("td", {}, link("/execution", { arn: x.execution_arn }, x.name)),
    )), "executions-empty");
  },
};

// ---- dead letters -----------------------------------------------------------------------------
function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

function redriveForm(executionArn) {
  return el("form", { method: "post", action: "/dead-letters/redrive", className: "inline" },
    el("input", { type: "hidden", name: "csrf_token", value: csrfToken() }),
    el("input", { type: "hidden", name: "execution_arn", value: executionArn }),
    el("button", { type: "submit", className: "redrive", text: "Redrive" }),
  );
}

views["dead-letters"] = {
  url: () => "/api/dead-letters",
  render(data) {
    fillTable("dead-letters", data.dead_letters.map((d) => el("tr", { "data-execution-arn": d.execution_arn, "data-key": d.object_key || "" },
      el("td", { text: d.failed_at }),
      el("td", {}, el("strong", { className: "reason", text: d.reason })),
      el("td", { text: d.failed_state }),
      el("td", { className: "id", text: d.object_key || "" }),
      el("td", { title: d.cause || "" }, d.execution_arn ? link("/execution", { arn: d.execution_arn }, d.error) : d.error),
      el("td", {}, redriveForm(d.execution_arn)),
    )), "dead-letters-empty");
    fillTable("undelivered", data.undelivered.map((u) => el("tr", { "data-key": u.object_key || "" },
      el("td", { text: u.sent_at }),
      el("td", {}, el("strong", { className: "reason", text: u.reason })),
      el("td", { className: "id", text: u.object_key || "" }),
      el("td", { title: u.rule_arn, text: u.error_message }),
    )), "undelivered-empty");
    const status = document.getElementById("redrive-status");
    const job = data.redrive;
    if (!job) status.textContent = "";
    else if (job.running) status.textContent = `redriving ${job.scope === "all" ? "all" : "one dead letter"}…`;
    else if (job.error) status.textContent = `redrive failed: ${job.error}`;
    else {
      const failing = job.still_failing.map((f) => `${f.key}: ${f.reason}`).join("; ");
      status.textContent = `last redrive: ${job.redriven.length} recorded, ${job.still_failing.length} still failing${failing ? ` (${failing})` : ""}`;
    }
    status.dataset.running = job && job.running ? "true" : "false";
  },
};

const view = views[main.dataset.view];
if (view) poll(view);
