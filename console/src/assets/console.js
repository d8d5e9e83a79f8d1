// Ramjet console: plain JavaScript over the broker's JSON API (docs/console.md).
// No framework and no build step: the broker serves this file from its binary.
"use strict";

const $ = (id) => document.getElementById(id);

function escapeHtml(value) {
  return String(value === undefined || value === null ? "" : value)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function setStatus(text, error) {
  const status = $("status");
  status.textContent = text;
  status.className = error ? "status error" : "status";
}

// Every API call: JSON in and out; an error shows its RocketMQ code and remark.
async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let json = null;
  try { json = await response.json(); } catch (e) { json = null; }
  if (!response.ok) {
    const code = json && json.code !== undefined ? json.code : response.status;
    const remark = json && json.remark ? json.remark : response.statusText;
    const error = new Error(`code ${code}: ${remark}`);
    error.code = code;
    throw error;
  }
  return json;
}

async function run(what, action) {
  try {
    const result = await action();
    setStatus(`${what}: ok`, false);
    return result;
  } catch (error) {
    setStatus(`${what} failed: ${error.message}`, true);
    return null;
  }
}

// rows: array of arrays of cell HTML; attrs(row index) -> extra <tr> attributes.
function table(id, headers, rows, attrs) {
  const head = "<tr>" + headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("") + "</tr>";
  const body = rows.map((cells, i) =>
    `<tr ${attrs ? attrs(i) : ""}>` + cells.map((c) => `<td>${c}</td>`).join("") + "</tr>").join("");
  $(id).innerHTML = head + body;
}

function time(ms) {
  return ms > 0 ? new Date(ms).toLocaleString() : "";
}

// ---- pages -------------------------------------------------------------------------

const pages = ["ops", "cluster", "topic", "consumer", "producer", "message", "dlq"];
const loaders = {};

function show() {
  const page = (location.hash || "#cluster").slice(1);
  const current = pages.includes(page) ? page : "cluster";
  for (const name of pages) {
    $("page-" + name).classList.toggle("active", name === current);
    $("nav-" + name).classList.toggle("active", name === current);
  }
  if (loaders[current]) loaders[current]();
}
window.addEventListener("hashchange", show);

// Ops: who this broker is, its configuration, and updates to it.
let brokerConfig = {};
loaders.ops = () => run("load config", async () => {
  const cluster = await api("GET", "/api/cluster");
  const self = cluster.self;
  $("ops-self").innerHTML = `broker <b>${escapeHtml(self.brokerName)}</b> at ${escapeHtml(self.addr)}, cluster ${escapeHtml(self.cluster)}`;
  const answer = await api("GET", "/api/broker/config");
  brokerConfig = answer.config;
  renderConfig();
});
function renderConfig() {
  const filter = $("config-filter").value.toLowerCase();
  const rows = Object.keys(brokerConfig).filter((k) => k.toLowerCase().includes(filter))
    .map((k) => [escapeHtml(k), escapeHtml(brokerConfig[k])]);
  table("config-table", ["key", "value"], rows);
}
$("config-filter").addEventListener("input", renderConfig);
$("config-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = {};
  body[$("config-key").value.trim()] = $("config-value").value;
  run("update config", () => api("POST", "/api/broker/config", body)).then((r) => r && loaders.ops());
});

// Cluster: every broker the name server knows, with its runtime stats.
loaders.cluster = () => run("load cluster", async () => {
  const cluster = await api("GET", "/api/cluster");
  const keys = ["brokerVersionDesc", "putTps", "getTransferredTps", "msgPutTotalTodayNow",
    "msgGetTotalTodayNow", "commitLogDiskRatio", "shardCount"];
  const rows = cluster.brokers.map((b) => [escapeHtml(b.cluster), escapeHtml(b.brokerName),
    escapeHtml(b.brokerId), escapeHtml(b.addr)].concat(
    keys.map((k) => escapeHtml(b.stats ? b.stats[k] : b.error))));
  table("cluster-table", ["cluster", "broker", "id", "address"].concat(keys), rows);
});

// Topic: list, create/update, delete, status, route, consumers, live charts.
let topics = [];
loaders.topic = () => run("load topics", async () => {
  topics = (await api("GET", "/api/topics")).topics;
  renderTopics();
});
function renderTopics() {
  const all = $("topic-show-system").checked;
  const shown = topics.filter((t) => all || t.kind === "NORMAL");
  const rows = shown.map((t) => [escapeHtml(t.topic), escapeHtml(t.kind),
    `<button data-act="status">status</button> <button data-act="route">route</button> ` +
    `<button data-act="consumers">consumers</button> <button data-act="live">live</button> ` +
    `<button data-act="delete">delete</button>`]);
  table("topic-table", ["topic", "kind", ""], rows,
    (i) => `id="topic-row-${escapeHtml(shown[i].topic)}" data-topic="${escapeHtml(shown[i].topic)}"`);
}
$("topic-show-system").addEventListener("change", renderTopics);
$("topic-table").addEventListener("click", (event) => {
  const act = event.target.dataset.act;
  const row = event.target.closest("tr");
  if (!act || !row) return;
  const topic = row.dataset.topic;
  const q = encodeURIComponent(topic);
  if (act === "status") {
    run("topic status", async () => {
      const s = await api("GET", `/api/topic/status?topic=${q}`);
      $("topic-detail").innerHTML = `<h3>${escapeHtml(topic)}: ${s.messages} messages</h3><table id="topic-status-table"></table>`;
      table("topic-status-table", ["broker", "queue", "min offset", "max offset", "last update"],
        s.queues.map((r) => [escapeHtml(r.brokerName), r.queueId, r.minOffset, r.maxOffset, time(r.lastUpdateTimestamp)]));
    });
  } else if (act === "route") {
    run("topic route", async () => {
      const r = await api("GET", `/api/topic/route?topic=${q}`);
      $("topic-detail").innerHTML = `<h3>Route of ${escapeHtml(topic)}</h3><pre>${escapeHtml(JSON.stringify(r, null, 2))}</pre>`;
    });
  } else if (act === "consumers") {
    run("topic consumers", async () => {
      const r = await api("GET", `/api/topic/consumers?topic=${q}`);
      $("topic-detail").innerHTML = `<h3>Groups consuming ${escapeHtml(topic)}</h3><pre>${escapeHtml(r.groups.join("\n"))}</pre>`;
    });
  } else if (act === "delete") {
    if (!window.confirm(`Delete topic ${topic}?`)) return;
    run("delete topic", () => api("DELETE", `/api/topics?topic=${q}`)).then(() => loaders.topic());
  } else if (act === "live") {
    startLive(topic);
  }
});
$("topic-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const body = {
    topic: $("topic-name").value.trim(),
    readQueueNums: parseInt($("topic-read").value, 10),
    writeQueueNums: parseInt($("topic-write").value, 10),
    perm: parseInt($("topic-perm").value, 10),
  };
  run("create topic " + body.topic, () => api("POST", "/api/topics", body)).then((r) => r && loaders.topic());
});

// Live charts: the topic's status and its send latency, polled each second.
// Throughput is the growth of the topic's queue end offsets per second: real whatever
// the broker's TPS counters say. Send latency is the p50 / p99 of the topic's puts since
// the previous poll, from the broker's ramjet_send_latency_seconds histogram
// (GET /api/topic/latency); a second without sends leaves a gap of 0.
let live = null;
function startLive(topic) {
  if (live) clearInterval(live.timer);
  live = { topic, last: null, tps: [], p50: [], p99: [], timer: null };
  $("topic-live").classList.remove("hidden");
  $("live-topic").textContent = topic;
  live.timer = setInterval(pollLive, 1000);
  pollLive();
}
function ms(value) {
  return value < 1 ? value.toFixed(3) : value.toFixed(1);
}
async function pollLive() {
  const state = live;
  if (!state) return;
  try {
    const q = encodeURIComponent(state.topic);
    const status = await api("GET", `/api/topic/status?topic=${q}`);
    const now = Date.now();
    if (state.last) {
      const seconds = (now - state.last.time) / 1000;
      const rate = seconds > 0 ? (status.maxOffsetSum - state.last.sum) / seconds : 0;
      state.tps.push(Math.max(0, rate));
    }
    state.last = { time: now, sum: status.maxOffsetSum };
    const stats = (await api("GET", "/api/broker/stats")).stats;
    const latency = await api("GET", `/api/topic/latency?topic=${q}`);
    if (latency.available) {
      state.p50.push(latency.p50Ms === null ? 0 : latency.p50Ms);
      state.p99.push(latency.p99Ms === null ? 0 : latency.p99Ms);
    }
    state.tps = state.tps.slice(-120);
    state.p50 = state.p50.slice(-120);
    state.p99 = state.p99.slice(-120);
    const tps = state.tps.length ? state.tps[state.tps.length - 1] : 0;
    $("tps-now").textContent = `${tps.toFixed(1)} msg/s now; broker putTps ${stats.putTps || "n/a"}`;
    if (!latency.available) {
      $("latency-now").textContent = `send latency unavailable: ${latency.reason}`;
    } else if (latency.p50Ms === null) {
      $("latency-now").textContent = "no sends to this topic since the last poll";
    } else {
      $("latency-now").innerHTML = `p50 <span id="latency-p50">${ms(latency.p50Ms)}</span> ms, ` +
        `p99 <span id="latency-p99">${ms(latency.p99Ms)}</span> ms over ${latency.count} sends`;
    }
    draw("chart-tps", state.tps);
    draw("chart-latency", state.p99, state.p50);
  } catch (error) {
    setStatus(`live ${state.topic}: ${error.message}`, true);
  }
}
function draw(id, values, second) {
  const canvas = $(id);
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const max = Math.max(1, ...values, ...(second || []));
  ctx.strokeStyle = "#ccd";
  ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(pad, 4); ctx.lineTo(pad, h - pad); ctx.lineTo(w - 4, h - pad); ctx.stroke();
  ctx.fillStyle = "#556";
  ctx.font = "10px sans-serif";
  ctx.fillText(max.toFixed(0), 2, 12);
  ctx.fillText("0", 2, h - pad);
  ctx.fillText("last 2 min", w - 60, h - 8);
  if (second) {
    ctx.fillStyle = "#2a7ae2"; ctx.fillText("p99", pad + 4, 12);
    ctx.fillStyle = "#e2892a"; ctx.fillText("p50", pad + 28, 12);
  }
  const line = (series, color) => {
    if (series.length < 2) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    const step = (w - pad - 6) / 119;
    const offset = 120 - series.length;
    series.forEach((v, i) => {
      const x = pad + (offset + i) * step;
      const y = h - pad - (v / max) * (h - pad - 8);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };
  line(values, "#2a7ae2");
  if (second) line(second, "#e2892a");
}

// Consumer: groups, per-queue progress and lag, connections, reset by time.
let selectedGroup = null;
loaders.consumer = () => run("load groups", async () => {
  const groups = (await api("GET", "/api/groups")).groups;
  table("group-table", ["group", "consumers", "type", "model", "TPS", "lag"],
    groups.map((g) => [escapeHtml(g.group), g.consumers, escapeHtml(g.consumeType), escapeHtml(g.messageModel),
      Number(g.consumeTps).toFixed(1), `<span class="lag">${g.diffTotal}</span>`]),
    (i) => `class="clickable" id="group-row-${escapeHtml(groups[i].group)}" data-group="${escapeHtml(groups[i].group)}"`);
  if (selectedGroup) loadGroup(selectedGroup);
});
$("groups-refresh").addEventListener("click", () => loaders.consumer());
$("group-table").addEventListener("click", (event) => {
  const row = event.target.closest("tr");
  if (row && row.dataset.group) loadGroup(row.dataset.group);
});
function loadGroup(group) {
  selectedGroup = group;
  $("group-detail").classList.remove("hidden");
  $("group-name").textContent = group;
  const q = encodeURIComponent(group);
  run("group " + group, async () => {
    try {
      const p = await api("GET", `/api/group/progress?group=${q}`);
      $("group-summary").innerHTML = `lag total <span id="group-lag" class="lag">${p.diffTotal}</span>, TPS ${Number(p.consumeTps).toFixed(1)}`;
      table("progress-table", ["topic", "broker", "queue", "broker offset", "consumer offset", "lag", "last consumed"],
        p.queues.map((r) => [escapeHtml(r.topic), escapeHtml(r.brokerName), r.queueId, r.brokerOffset,
          r.consumerOffset, `<span class="lag">${r.lag}</span>`, time(r.lastTimestamp)]));
      const topics = [...new Set(p.queues.map((r) => r.topic).filter((t) => !t.startsWith("%RETRY%")))];
      if (!$("reset-topic").value && topics.length) $("reset-topic").value = topics[0];
    } catch (error) {
      $("group-summary").textContent = error.message;
      table("progress-table", [], []);
    }
    try {
      const c = await api("GET", `/api/group/connections?group=${q}`);
      table("connection-table", ["client id", "address", "language", "version"],
        c.connectionSet.map((x) => [escapeHtml(x.clientId), escapeHtml(x.clientAddr), escapeHtml(x.language), x.version]));
    } catch (error) {
      $("connection-table").innerHTML = `<tr><td>${escapeHtml(error.message)}</td></tr>`;
    }
  });
}
$("reset-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("reset-time").value.trim();
  const body = {
    group: selectedGroup,
    topic: $("reset-topic").value.trim(),
    timestamp: /^\d+$/.test(text) ? parseInt(text, 10) : text,
    force: $("reset-force").checked,
  };
  run("reset " + selectedGroup, async () => {
    const r = await api("POST", "/api/group/reset", body);
    $("reset-result").innerHTML = `<span id="reset-mode">${escapeHtml(r.mode)}</span> reset: ` +
      r.offsets.map((o) => `${escapeHtml(o.brokerName)}/${o.queueId} → ${o.offset}`).join(", ");
    loadGroup(selectedGroup);
  });
});

// Producer: connections of one producer group on one topic's brokers.
$("producer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const topic = encodeURIComponent($("producer-topic").value.trim());
  const group = encodeURIComponent($("producer-group").value.trim());
  run("producers", async () => {
    const r = await api("GET", `/api/producers?topic=${topic}&group=${group}`);
    table("producer-table", ["client id", "address", "language", "version"],
      r.connections.map((x) => [escapeHtml(x.clientId), escapeHtml(x.clientAddr), escapeHtml(x.language), x.version]));
  });
});

// Message: by time, by key, by id; one message's properties and body.
function renderMessages(messages) {
  table("message-table", ["msgId", "topic", "tags", "keys", "queue", "offset", "stored", ""],
    messages.map((m) => [escapeHtml(m.msgId), escapeHtml(m.topic), escapeHtml(m.tags), escapeHtml(m.keys),
      m.queueId, m.queueOffset, time(m.storeTimestamp), `<button data-id="${escapeHtml(m.msgId)}" data-topic="${escapeHtml(m.topic)}">view</button>`]),
    (i) => `class="message-row" data-msgid="${escapeHtml(messages[i].msgId)}"`);
}
$("msg-time-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const topic = encodeURIComponent($("msg-topic").value.trim());
  const begin = $("msg-begin").value.trim() || "0";
  const end = $("msg-end").value.trim() || String(Date.now());
  run("messages by time", async () => {
    renderMessages((await api("GET", `/api/messages?topic=${topic}&begin=${encodeURIComponent(begin)}&end=${encodeURIComponent(end)}&max=200`)).messages);
  });
});
$("msg-key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const topic = encodeURIComponent($("key-topic").value.trim());
  const key = encodeURIComponent($("key-key").value.trim());
  run("messages by key", async () => {
    renderMessages((await api("GET", `/api/messages/by-key?topic=${topic}&key=${key}`)).messages);
  });
});
$("msg-id-form").addEventListener("submit", (event) => {
  event.preventDefault();
  viewMessage($("id-topic").value.trim(), $("id-id").value.trim());
});
$("message-table").addEventListener("click", (event) => {
  if (event.target.dataset.id) viewMessage(event.target.dataset.topic, event.target.dataset.id);
});
function viewMessage(topic, id) {
  run("view message", async () => {
    const m = await api("GET", `/api/message?topic=${encodeURIComponent(topic)}&id=${encodeURIComponent(id)}`);
    const props = Object.keys(m.properties).map((k) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(m.properties[k])}</td></tr>`).join("");
    const tracks = m.tracks.map((t) => `<tr><td>${escapeHtml(t.group)}</td><td>${t.consumed ? "CONSUMED" : "NOT_CONSUMED_YET"}</td></tr>`).join("");
    $("message-detail").classList.remove("hidden");
    $("message-detail").innerHTML =
      `<h3>Message <span id="detail-msgid">${escapeHtml(m.msgId)}</span></h3>` +
      `<p>offsetMsgId ${escapeHtml(m.offsetMsgId)}; ${escapeHtml(m.brokerName)}/${m.queueId} offset ${m.queueOffset}; ` +
      `born ${time(m.bornTimestamp)} at ${escapeHtml(m.bornHost)}; stored ${time(m.storeTimestamp)}; reconsume ${m.reconsumeTimes}</p>` +
      `<h4>Properties</h4><table>${props}</table>` +
      `<h4>Body (${m.bodySize} bytes)</h4><pre id="detail-body">${escapeHtml(m.body)}</pre>` +
      `<h4>Consumed by</h4><table>${tracks}</table>` +
      `<form id="resend-form"><input id="resend-group" placeholder="consumer group">` +
      `<button type="submit">Resend to group (CONSUME_MESSAGE_DIRECTLY)</button></form><div id="resend-result"></div>`;
    $("resend-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { group: $("resend-group").value.trim(), topic, id };
      api("POST", "/api/message/resend", body)
        .then((r) => { $("resend-result").textContent = JSON.stringify(r.result); })
        .catch((error) => { $("resend-result").textContent = error.message; });
    });
  });
}

// DLQ: a group's dead letters; resend one to its original topic.
$("dlq-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const group = $("dlq-group").value.trim();
  run("dead letters", async () => {
    const r = await api("GET", `/api/dlq?group=${encodeURIComponent(group)}`);
    table("dlq-table", ["msgId", "original topic", "keys", "stored", "reconsume", ""],
      r.messages.map((m) => [escapeHtml(m.msgId), escapeHtml(m.properties.RETRY_TOPIC), escapeHtml(m.keys),
        time(m.storeTimestamp), m.reconsumeTimes,
        `<button data-id="${escapeHtml(m.msgId)}" data-group="${escapeHtml(group)}">resend</button>`]));
  });
});
$("dlq-table").addEventListener("click", (event) => {
  const id = event.target.dataset.id;
  if (!id) return;
  run("resend " + id, async () => {
    const r = await api("POST", "/api/dlq/resend", { group: event.target.dataset.group, id });
    $("dlq-result").textContent = `resent to ${r.topic} (${r.brokerName}/${r.queueId}): ${r.sendStatus}, offsetMsgId ${r.offsetMsgId}`;
  });
});

show();
