// The Orchestrator console: plain JavaScript over the HTTP API, no build step, no outside files.
// The API key stays in this tab's sessionStorage and goes out only as the Authorization header.
// Every value from the server is put in the page as text (textContent), never as HTML.
"use strict";

const state = { key: sessionStorage.getItem("orchestrator.key"), role: sessionStorage.getItem("orchestrator.role"), timer: null, busy: false, renders: 0 };

// --- HTTP -------------------------------------------------------------------------------------

async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${state.key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(json && json.detail ? `${json.detail} (${json.code})` : `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return json;
}

// --- DOM helpers ------------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "onclick" || name === "onsubmit") node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function table(headers, rows, empty) {
  if (rows.length === 0) return el("p", { class: "muted" }, empty);
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { class: h.num ? "num" : undefined }, h.label || h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((cell, i) => el("td", { class: headers[i].num ? "num" : undefined }, cell))))));
}

// A query string with %20 for spaces (the API does not read '+' as a space).
function query(params) {
  return Object.entries(params).filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
}

function ago(iso) {
  if (!iso) return "-";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  return duration(seconds) + " ago";
}

function duration(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

// Workflows are readable with an ops key (a monitor key reads the dashboard and metrics only).
function workflowLink(id) {
  return isOps() ? el("a", { href: `#/workflows/${encodeURIComponent(id)}` }, id) : id;
}

const isOps = () => state.role === "ops";
const view = () => document.getElementById("view");

// --- Sign-in ----------------------------------------------------------------------------------

async function signIn(key) {
  state.key = key;
  try {
    await api("/v1/dashboard");
  } catch (error) {
    state.key = null;
    throw new Error(error.status === 401 ? "unknown API key" : error.status === 403 ? "this key may not read the console: use a monitor or ops key" : error.message);
  }
  try {
    await api("/v1/dead-letters/groups?limit=1");
    state.role = "ops";
  } catch (error) {
    if (error.status !== 403) throw error;
    state.role = "monitor";
  }
  sessionStorage.setItem("orchestrator.key", key);
  sessionStorage.setItem("orchestrator.role", state.role);
}

function signOut() {
  sessionStorage.clear();
  state.key = null;
  state.role = null;
  render();
}

// --- Overview ---------------------------------------------------------------------------------

async function overview() {
  const dashboard = await api("/v1/dashboard");
  const groups = isOps() ? (await api("/v1/dead-letters/groups?limit=50")).items : null;
  const late = dashboard.late_tasks;
  const open = dashboard.dead_letters.open;
  const page = [
    el("div", { class: "cards" },
      card("Late tasks", late.length, late.length > 0, "late-count"),
      card("Open dead letters", open, open > 0, "dead-letter-count"),
      card("Live workers", dashboard.workers.length, dashboard.workers.length === 0, "worker-count"),
      card("Tasks done, last minute", dashboard.throughput.tasks_last_minute, false),
      card("Tasks done, last hour", dashboard.throughput.tasks_last_hour, false),
      card("Workflows ended, last hour", dashboard.throughput.workflows_ended_last_hour, false)),
    late.length === 0 && open === 0 && dashboard.workers.length > 0 ? el("p", { class: "fine" }, "Nothing is late, nothing is dead.") : null,
    dashboard.workers.length === 0 ? el("p", { class: "alert" }, "No live worker: nothing runs. Start `orchestrator serve` or `orchestrator worker`.") : null,
    el("h2", {}, "Late tasks"),
    table(["Workflow", "State", "Activity", { label: "Late by", num: true }, "Why"],
      late.map((t) => [workflowLink(t.workflow_id), t.state, t.activity, duration(t.late_by_seconds), t.cause ? t.cause.message : t.reason]),
      "No task is late."),
    el("h2", {}, "Dead letters by cause"),
    groups ? deadLetterGroups(groups, () => render()) :
      table(["Activity", "Error", { label: "Open", num: true }],
        dashboard.dead_letters.groups.map((g) => [g.activity, g.error_code, g.open]), "No open dead letter."),
    el("h2", {}, "Queues"),
    table(["Activity", { label: "Due", num: true }, { label: "Running", num: true }, { label: "Scheduled", num: true }, { label: "Oldest due waits", num: true }],
      dashboard.queues.map((q) => [q.activity, q.ready, q.running, q.scheduled, q.oldest_ready_age_seconds === null ? "-" : duration(q.oldest_ready_age_seconds)]),
      "The queues are empty."),
    el("h2", {}, "Workers"),
    table(["Worker", "Host", { label: "Slots", num: true }, "Started", "Last heartbeat"],
      dashboard.workers.map((w) => [w.id, w.host, w.concurrency, ago(w.started_at), ago(w.heartbeat_at)]), "No live worker."),
    el("p", { class: "muted" }, `Updated ${new Date(dashboard.generated_at).toLocaleTimeString()}; refreshes every 5 s.`),
  ];
  return page;
}

function card(label, value, bad, id) {
  return el("div", { class: bad ? "card bad" : "card", id }, el("div", { class: "value" }, value), el("div", { class: "muted" }, label));
}

// --- Dead letters -----------------------------------------------------------------------------

function deadLetterGroups(groups, after) {
  return table(["Count", "Activity", "Error", "Message (ids masked)", "Types", "First seen", "Last seen", isOps() ? "Act" : ""],
    groups.map((g) => [
      String(g.count), g.activity, g.error_code, g.message_pattern, g.workflow_types.join(", "), ago(g.first_seen), ago(g.last_seen),
      isOps() ? el("span", {},
        el("button", { type: "button", "data-action": "retry-group", "data-fingerprint": g.fingerprint, onclick: () => resolveDialog("retry", { fingerprint: g.fingerprint }, `the ${g.error_code} group of ${g.activity}`, after) }, "Retry group…"),
        " ",
        el("button", { type: "button", class: "danger", "data-action": "discard-group", onclick: () => resolveDialog("discard", { fingerprint: g.fingerprint }, `the ${g.error_code} group of ${g.activity}`, after) }, "Discard group…")) : "",
    ]), "No open dead letter.");
}

// Counts first (dry run), asks for a reason, then resolves batch by batch with progress.
async function resolveDialog(action, filter, what, after) {
  state.busy = true;
  const box = el("div", { class: "dialog", id: "resolve-dialog" }, el("p", {}, `Counting what ${action} would take…`));
  view().prepend(box);
  try {
    const dry = await api(`/v1/dead-letters/${action}`, { method: "POST", body: { filter, dry_run: true } });
    const bounded = { ...filter, up_to_id: dry.up_to_id || undefined };
    box.replaceChildren(
      el("p", {}, `${action === "retry" ? "Retry" : "Discard"} ${dry.matched} open dead letter${dry.matched === 1 ? "" : "s"} of ${what}?`),
      el("form", { class: "inline", id: "resolve-form", onsubmit: async (event) => {
        event.preventDefault();
        const reason = document.getElementById("resolve-reason").value.trim();
        if (!reason) return;
        const progress = el("p", { id: "resolve-progress" }, "Starting…");
        box.replaceChildren(progress);
        let resolved = 0, failed = 0;
        const summary = () => `${action === "retry" ? "Retried" : "Discarded"} ${resolved} of ${dry.matched}${failed ? `, ${failed} failed` : ""}`;
        try {
          for (;;) {
            const result = await api(`/v1/dead-letters/${action}`, { method: "POST", body: { filter: bounded, reason, limit: 100 } });
            resolved += result.resolved;
            failed += result.failed.length;
            progress.textContent = `${summary()}…`;
            if (result.remaining === 0 || result.resolved === 0) break;
          }
          progress.textContent = `${summary()}. Done.`;
        } catch (error) {
          progress.textContent = `${summary()}; stopped: ${error.message}`;
          progress.className = "error";
        }
        state.busy = false;
        setTimeout(after, 800);
      } },
        el("input", { id: "resolve-reason", placeholder: "Why (kept with each dead letter and in each workflow's history)", size: 60, required: true }),
        el("button", { type: "submit", id: "resolve-confirm" }, action === "retry" ? "Retry them" : "Discard them"),
        el("button", { type: "button", onclick: () => { state.busy = false; box.remove(); } }, "Cancel")));
  } catch (error) {
    state.busy = false;
    box.replaceChildren(el("p", { class: "error" }, error.message));
  }
}

const deadLetterFilterFields = ["workflow_type", "activity", "error_code", "text", "created_after", "created_before"];

async function deadLetters() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filter = {};
  for (const name of deadLetterFilterFields) if (params.get(name)) filter[name] = params.get(name);
  const [groups, letters] = await Promise.all([
    api(`/v1/dead-letters/groups?${query(filter)}`), api(`/v1/dead-letters?${query({ ...filter, status: "open", limit: "100" })}`)]);
  const form = el("form", { class: "inline", onsubmit: (event) => {
    event.preventDefault();
    location.hash = `#/dead-letters?${formValues(event.target)}`;
  } },
    ["workflow_type", "activity", "error_code", "text"].map((name) => el("input", { name, placeholder: name.replace("_", " "), value: filter[name] || "" })),
    timeRangeInputs(filter),
    el("button", { type: "submit" }, "Filter"),
    Object.keys(filter).length ? el("button", { type: "button", onclick: () => resolveDialog("retry", filter, "everything this filter matches", () => render()) }, "Retry all matching…") : null,
    Object.keys(filter).length ? el("button", { type: "button", class: "danger", onclick: () => resolveDialog("discard", filter, "everything this filter matches", () => render()) }, "Discard all matching…") : null);
  return [
    el("h2", {}, "Filter"), form,
    el("h2", {}, "By cause"), deadLetterGroups(groups.items, () => render()),
    el("h2", {}, "Newest open dead letters"),
    table(["Id", "Workflow", "State", "Activity", "Error", "Last message", "Attempts", "Since", "Act"],
      letters.items.map((d) => [d.id, workflowLink(d.workflow_id), d.state, d.activity, d.error_code, d.error_message, d.attempts.length, ago(d.created_at),
        el("button", { type: "button", "data-action": "inspect", onclick: () => inspectDeadLetter(d.id) }, "Inspect…")]),
      "No open dead letter matches."),
  ];
}

// A filter form's fields as URL parameters: empty ones left out, a picked local date and time
// sent as an instant.
function formValues(form) {
  const values = new URLSearchParams();
  for (const input of form.querySelectorAll("input[name], select[name]")) {
    if (!input.value.trim()) continue;
    values.set(input.name, input.type === "datetime-local" ? new Date(input.value).toISOString() : input.value.trim());
  }
  return values;
}

// "since" and "before" pickers over created_at, in the browser's time zone.
function timeRangeInputs(values) {
  return ["created_after", "created_before"].map((name) => el("label", {}, name === "created_after" ? "since " : "before ",
    el("input", { name, type: "datetime-local", value: values[name] ? localInput(values[name]) : "" })));
}

function localInput(iso) {
  const date = new Date(iso);
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// One dead letter: every attempt's error, then retry (with an optional RFC 7396 patch of the
// task's input) or discard, each with a reason.
async function inspectDeadLetter(id) {
  let letter;
  try {
    letter = await api(`/v1/dead-letters/${id}`);
  } catch (error) {
    view().prepend(el("p", { class: "error" }, error.message));
    return;
  }
  state.busy = true;
  const box = el("div", { class: "dialog", id: "inspect-dialog" },
    el("p", {}, `Dead letter ${letter.id}: ${letter.activity} in state ${letter.state} of `, workflowLink(letter.workflow_id), ` (${letter.workflow_type})`),
    table(["Attempt", "At", "Code", "Message"], letter.attempts.map((a) => [a.attempt, new Date(a.at).toLocaleString(), a.error.code, a.error.message]), "No attempt."),
    el("form", { class: "inline", onsubmit: async (event) => {
      event.preventDefault();
      const form = event.target;
      const reason = form.querySelector("[name=reason]").value.trim();
      const patchText = form.querySelector("[name=patch]").value.trim();
      const action = event.submitter && event.submitter.value === "discard" ? "discard" : "retry";
      const body = { reason };
      try {
        if (action === "retry" && patchText) body.input_patch = JSON.parse(patchText);
      } catch {
        form.querySelector(".error").textContent = "the patch is not JSON";
        return;
      }
      try {
        await api(`/v1/dead-letters/${id}/${action}`, { method: "POST", body });
        state.busy = false;
        render();
      } catch (error) {
        form.querySelector(".error").textContent = error.message;
      }
    } },
      el("input", { name: "reason", placeholder: "Why", size: 40, required: true }),
      el("input", { name: "patch", placeholder: 'input patch, e.g. {"card": "pm_card_visa"}', size: 40 }),
      el("button", { type: "submit", value: "retry" }, "Retry"),
      el("button", { type: "submit", value: "discard", class: "danger" }, "Discard"),
      el("button", { type: "button", onclick: () => { state.busy = false; box.remove(); } }, "Close"),
      el("span", { class: "error" })));
  view().prepend(box);
}

// --- Workflows --------------------------------------------------------------------------------

const workflowStatuses = ["running", "waiting", "dead_lettered", "completed", "failed", "cancelled"];

// Search by id (straight to its page), or list by type, status and start time, newest first,
// a page at a time.
async function workflows() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const filter = {};
  for (const name of ["type", "status", "created_after", "created_before", "cursor"]) if (params.get(name)) filter[name] = params.get(name);
  const page = await api(`/v1/workflows?${query({ ...filter, limit: "50" })}`);
  const older = new URLSearchParams(filter);
  if (page.next_cursor) older.set("cursor", page.next_cursor);
  return [
    el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      const values = formValues(event.target);
      location.hash = values.get("id") ? `#/workflows/${encodeURIComponent(values.get("id"))}` : `#/workflows?${values}`;
    } },
      el("input", { name: "id", placeholder: "workflow id" }),
      el("input", { name: "type", placeholder: "type", value: filter.type || "" }),
      el("select", { name: "status" }, el("option", { value: "" }, "any status"),
        workflowStatuses.map((status) => el("option", { value: status, selected: status === filter.status }, status))),
      timeRangeInputs(filter),
      el("button", { type: "submit" }, "Search")),
    table(["Id", "Type", "Status", "State", "Waiting for", "Created", "Updated"],
      page.items.map((w) => [workflowLink(w.id), w.type, w.status, w.state || "-", waitingText(w.waiting), ago(w.created_at), ago(w.updated_at)]),
      "No workflow matches."),
    page.next_cursor ? el("p", {}, el("a", { href: `#/workflows?${older}`, id: "older-workflows" }, "Older →")) : null,
  ];
}

function waitingText(waiting) {
  if (!waiting) return "-";
  const what = waiting.for === "signal" ? `signal ${waiting.signals.join(" or ")}` : waiting.for;
  return waiting.until ? `${what} until ${new Date(waiting.until).toLocaleString()}` : what;
}

// The state machine as layers from the start state, top to bottom: the current state stands out,
// visited states are shaded, end states have a heavier frame; edges back up are dashed.
function diagram(definition, current, visited) {
  const byName = new Map(definition.states.map((s) => [s.name, s]));
  const depth = new Map([[definition.start, 0]]);
  const queue = [definition.start];
  while (queue.length) {
    const name = queue.shift();
    for (const next of (byName.get(name) || { next: [] }).next) {
      if (!depth.has(next)) { depth.set(next, depth.get(name) + 1); queue.push(next); }
    }
  }
  const deepest = Math.max(0, ...depth.values());
  for (const s of definition.states) if (!depth.has(s.name)) depth.set(s.name, deepest + 1);  // compensation paths
  const layers = [];
  for (const s of definition.states) (layers[depth.get(s.name)] ||= []).push(s.name);
  const [width, height, gapX, gapY] = [170, 34, 24, 44];
  const columns = Math.max(...layers.map((l) => l.length));
  const parents = new Map();
  for (const s of definition.states) for (const next of s.next) if (next !== s.name) (parents.get(next) || parents.set(next, []).get(next)).push(s.name);
  const position = new Map();
  layers.forEach((names, row) => {
    // Each state under the mean position of the states above that lead to it (fewer crossings).
    const under = (name) => {
      const xs = (parents.get(name) || []).filter((p) => position.has(p)).map((p) => position.get(p).x);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Infinity;
    };
    const ordered = names.map((name, index) => ({ name, index, x: under(name) }))
      .sort((a, b) => (a.x === b.x ? a.index - b.index : a.x < b.x ? -1 : 1)).map((entry) => entry.name);
    const offset = (columns - ordered.length) * (width + gapX) / 2;
    ordered.forEach((name, column) => position.set(name, { x: 10 + offset + column * (width + gapX), y: 10 + row * (height + gapY) }));
  });
  const svgNS = "http://www.w3.org/2000/svg";
  const node = (tag, attributes, text) => {
    const element = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attributes)) element.setAttribute(k, v);
    if (text !== undefined) element.textContent = text;
    return element;
  };
  const [svgWidth, svgHeight] = [20 + columns * (width + gapX), 20 + layers.length * (height + gapY)];
  const svg = node("svg", { width: svgWidth, height: svgHeight, viewBox: `0 0 ${svgWidth} ${svgHeight}`, id: "state-diagram", role: "img" });
  svg.append(node("defs", {}));
  svg.firstChild.append(Object.assign(node("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" })));
  svg.firstChild.firstChild.append(node("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#777" }));
  for (const state of definition.states) {
    const from = position.get(state.name);
    for (const next of state.next) {
      const to = position.get(next);
      if (!to) continue;
      const [x1, y1, x2, y2] = [from.x + width / 2, from.y + height, to.x + width / 2, to.y];
      const back = to.y <= from.y;
      const d = back ? `M ${from.x + width} ${from.y + height / 2} C ${from.x + width + 60} ${from.y + height / 2}, ${to.x + width + 60} ${to.y + height / 2}, ${to.x + width} ${to.y + height / 2}`
                     : `M ${x1} ${y1} L ${x2} ${y2}`;
      svg.append(node("path", { d, fill: "none", stroke: "#999", "stroke-dasharray": back ? "4 3" : "", "marker-end": "url(#arrow)" }));
    }
  }
  for (const state of definition.states) {
    const { x, y } = position.get(state.name);
    const isCurrent = state.name === current;
    const group = node("g", { "data-state": state.name, class: isCurrent ? "current" : visited.has(state.name) ? "visited" : "unvisited" });
    group.append(node("rect", {
      x, y, width, height, rx: 6,
      fill: isCurrent ? "#fff3c4" : visited.has(state.name) ? "#e3f1e4" : "#fff",
      stroke: isCurrent ? "#b07d00" : "#888", "stroke-width": isCurrent ? 3 : state.terminal ? 2.5 : 1,
    }));
    group.append(node("text", { x: x + width / 2, y: y + 15, "text-anchor": "middle", "font-size": 12, "font-weight": isCurrent ? 700 : 400 }, state.name));
    group.append(node("text", { x: x + width / 2, y: y + 28, "text-anchor": "middle", "font-size": 10, fill: "#666" }, state.kind));
    svg.append(group);
  }
  return svg;
}

// A diagram in a bounded frame: drag to pan, buttons (or Ctrl + wheel) to zoom, "fit" to see it
// all; it opens on the current state, so a 45-state machine shows where the instance is at once.
function zoomable(svg) {
  const [fullWidth, fullHeight] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
  const frame = el("div", { class: "diagram", id: "diagram-frame" }, svg);
  let scale = 1;
  const zoomTo = (next) => {
    const [cx, cy] = [(frame.scrollLeft + frame.clientWidth / 2) / scale, (frame.scrollTop + frame.clientHeight / 2) / scale];
    scale = Math.min(3, Math.max(0.15, next));
    svg.setAttribute("width", fullWidth * scale);
    svg.setAttribute("height", fullHeight * scale);
    frame.scrollTo(cx * scale - frame.clientWidth / 2, cy * scale - frame.clientHeight / 2);
  };
  const showCurrent = () => {
    const box = svg.querySelector("g.current rect");
    if (!box) return;
    frame.scrollTo((Number(box.getAttribute("x")) + Number(box.getAttribute("width")) / 2) * scale - frame.clientWidth / 2,
      (Number(box.getAttribute("y")) + Number(box.getAttribute("height")) / 2) * scale - frame.clientHeight / 2);
  };
  let drag = null;
  frame.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, left: frame.scrollLeft, top: frame.scrollTop };
    frame.setPointerCapture(event.pointerId);
  });
  frame.addEventListener("pointermove", (event) => {
    if (drag) frame.scrollTo(drag.left - (event.clientX - drag.x), drag.top - (event.clientY - drag.y));
  });
  frame.addEventListener("pointerup", () => { drag = null; });
  frame.addEventListener("wheel", (event) => {
    if (!event.ctrlKey) return;
    event.preventDefault();
    zoomTo(scale * (event.deltaY < 0 ? 1.15 : 1 / 1.15));
  }, { passive: false });
  requestAnimationFrame(showCurrent);
  return [
    el("div", { class: "inline diagram-controls" },
      el("button", { type: "button", "data-zoom": "in", onclick: () => zoomTo(scale * 1.25) }, "Zoom in"),
      el("button", { type: "button", "data-zoom": "out", onclick: () => zoomTo(scale / 1.25) }, "Zoom out"),
      el("button", { type: "button", "data-zoom": "fit", onclick: () => { zoomTo(Math.min(1, frame.clientWidth / fullWidth, frame.clientHeight / fullHeight)); frame.scrollTo(0, 0); } }, "Fit"),
      el("button", { type: "button", "data-zoom": "current", onclick: () => { zoomTo(1); showCurrent(); } }, "Current state")),
    frame,
  ];
}

// Every page of a workflow's history, in order.
async function historyOf(id) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(`/v1/workflows/${encodeURIComponent(id)}/history` + (cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return { items };
}

async function workflow(id) {
  const [record, history, definition] = await Promise.all([
    api(`/v1/workflows/${encodeURIComponent(id)}`), historyOf(id),
    api(`/v1/workflows/${encodeURIComponent(id)}/definition`)]);
  const visited = new Set(history.items.filter((e) => e.type === "state_entered").map((e) => e.state));
  const actions = isOps() && !["completed", "failed", "cancelled"].includes(record.status) ? el("form", { class: "inline", id: "workflow-actions", onsubmit: async (event) => {
    event.preventDefault();
    const name = event.target.querySelector("[name=signal]").value.trim();
    const payload = event.target.querySelector("[name=payload]").value.trim() || "{}";
    try {
      await api(`/v1/workflows/${encodeURIComponent(id)}/signals/${encodeURIComponent(name)}`, { method: "POST", body: { payload: JSON.parse(payload) } });
      render();
    } catch (error) { alert(error.message); }
  } },
    el("input", { name: "signal", placeholder: "signal", size: 28, value: record.waiting && record.waiting.signals[0] || "", required: true }),
    el("input", { name: "payload", placeholder: "payload (JSON)", size: 40 }),
    el("button", { type: "submit" }, "Send signal"),
    el("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirm(`Cancel ${id}?`)) return;
      try { await api(`/v1/workflows/${encodeURIComponent(id)}/cancel`, { method: "POST", body: { reason: "cancelled from the console" } }); render(); } catch (error) { alert(error.message); }
    } }, "Cancel workflow")) : null;
  return [
    el("h2", {}, `${record.type} ${record.id}`),
    table(["Status", "State", "Waiting for", "Error", "Created", "Updated"],
      [[record.status, record.state || "-", waitingText(record.waiting), record.error ? `${record.error.code}: ${record.error.message}` : "-", ago(record.created_at), ago(record.updated_at)]], ""),
    actions,
    el("h2", {}, `State machine (version ${definition.version}): current state framed, visited states shaded`),
    zoomable(diagram(definition, record.state, visited)),
    el("h2", {}, "Timeline"),
    table(["#", "At", "Event", "State", "Attempt", "Data"],
      history.items.map((e) => [e.seq, new Date(e.at).toLocaleTimeString(), e.type, e.state || "-", e.attempt === null ? "-" : e.attempt, e.data ? el("code", {}, JSON.stringify(e.data).slice(0, 160)) : "-"]), "No event."),
    el("h2", {}, "Context"), el("pre", {}, JSON.stringify(record.context, null, 2)),
    el("h2", {}, "Input"), el("pre", {}, JSON.stringify(record.input, null, 2)),
  ];
}

// --- Router -----------------------------------------------------------------------------------

async function render() {
  const signedIn = Boolean(state.key && state.role);
  document.getElementById("sign-in").hidden = signedIn;
  document.getElementById("nav").hidden = !signedIn;
  view().hidden = !signedIn;
  clearTimeout(state.timer);
  // Renders overlap (a refresh still loading when the page changes): only the newest one shows.
  const generation = ++state.renders;
  if (!signedIn) return;
  document.getElementById("who").textContent = `signed in with ${isOps() ? "an ops" : "a monitor"} key`;
  for (const link of document.querySelectorAll("nav a")) {
    link.hidden = link.hasAttribute("data-ops") && !isOps();
    link.classList.toggle("active", location.hash.startsWith(link.getAttribute("href")));
  }
  const route = location.hash.replace(/^#\//, "") || "overview";
  try {
    let content;
    if (route.startsWith("dead-letters") && isOps()) content = await deadLetters();
    else if (route.startsWith("workflows/") && isOps()) content = await workflow(decodeURIComponent(route.slice("workflows/".length)));
    else if (route.startsWith("workflows") && isOps()) content = await workflows();
    else content = await overview();
    if (generation !== state.renders) return;
    if (!state.busy) view().replaceChildren(...content.flat().filter((part) => part !== null && part !== undefined && part !== false));
  } catch (error) {
    if (generation !== state.renders) return;
    if (error.status === 401) return signOut();
    view().replaceChildren(el("p", { class: "error" }, error.message));
  }
  if (route === "overview") state.timer = setTimeout(() => { if (!state.busy) render(); }, 5000);
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("sign-in-error");
    error.textContent = "";
    try {
      await signIn(document.getElementById("api-key").value.trim());
      document.getElementById("api-key").value = "";
      if (!location.hash) location.hash = "#/overview";
      render();
    } catch (problem) {
      error.textContent = problem.message;
    }
  });
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", render);
  render();
});
