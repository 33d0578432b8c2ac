// The colorization page (Fig. 10): guided mode highlights the region the model asks for next; point mode lets
// the participant click where the hint goes. A palette pick sends the hint, the server answers with the result.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {pid: null, config: null, s: null, seq: 0, slot: 0, hinted: false, region: null,
               nextRegion: null, nextGuide: null, nextBox: null, point: null, shownAt: 0, busy: false, output: null};

function scoreButtons(fieldset, name) {
  for (let v = 1; v <= 5; v++) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="radio" name="${name}" value="${v}" required> ${v}`;
    fieldset.appendChild(label);
  }
}

function buildPalette(colors) {
  const box = $("palette");
  for (const c of colors) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "swatch";
    b.dataset.color = c;
    b.style.background = c;
    b.title = c;
    b.addEventListener("click", () => sendHint(c));
    box.appendChild(b);
  }
  $("use-custom").addEventListener("click", () => sendHint($("custom").value));
}

function shown() { state.shownAt = performance.now(); }

function outline(box) {  // [left, top, right, bottom] in fractions of the image, or null
  const b = $("region-box");
  b.hidden = !box;
  if (!box) return;
  // 3 px of air around the region, so the outline never hides its pixels
  Object.assign(b.style, {left: `calc(${box[0] * 100}% - 3px)`, top: `calc(${box[1] * 100}% - 3px)`,
                          width: `calc(${(box[2] - box[0]) * 100}% + 6px)`,
                          height: `calc(${(box[3] - box[1]) * 100}% + 6px)`});
}

function updateButtons() {
  const guided = state.s && state.s.page === "guided";
  $("next").disabled = state.busy || !state.hinted || (guided && state.nextRegion === null);
  $("finish").disabled = state.busy;
  for (const b of document.querySelectorAll(".swatch, #use-custom")) b.disabled = state.busy;
}

function instructions() {
  if (state.s.page === "guided") {
    return state.region === null
      ? "The model has no more regions to ask for: press Finish."
      : "Pick a colour for the highlighted region. Press Next for the next region, Finish when you are happy.";
  }
  return "Click the sketch where the hint goes, then pick its colour. Next adds another hint; Finish ends.";
}

async function start() {
  showError("");
  const params = new URLSearchParams(location.search);
  const body = {participant_id: state.pid};
  if (params.get("model")) body.model = params.get("model");
  if (params.get("image")) body.image_id = params.get("image");
  let s;
  try {
    s = await api("/api/sessions", body);
  } catch (err) {
    if (err.status === 404 && /participant/.test(err.message)) {  // a new database: a new id
      state.pid = await participantId(true);
      return start();
    }
    if (err.status === 409 && err.data.open_session) return otherTab(err);
    throw err;
  }
  if (s.done) {
    $("work").hidden = true;
    $("scores").hidden = true;
    $("done").hidden = false;
    $("task").textContent = `${s.tasks} of ${s.tasks} done`;
    return;
  }
  Object.assign(state, {s, seq: s.seq, slot: 0, hinted: false, region: s.region ?? null, nextRegion: null,
                        point: null});
  $("task").textContent = `image ${s.task} of ${s.tasks}`;
  $("mode").textContent = s.page === "guided" ? "guided mode" : "point mode";
  document.body.dataset.page = s.page;
  document.body.dataset.session = s.session_id;
  $("left").src = s.page === "guided" ? s.guide : s.sketch;
  $("result").src = s.output;
  state.output = s.output;
  outline(s.page === "guided" ? s.box : null);
  $("left-caption").textContent = s.page === "guided" ? "Region to colour (highlighted)" : "Click to place the hint";
  $("marker").hidden = true;
  $("instructions").textContent = instructions();
  $("scores").hidden = true;
  $("done").hidden = true;
  $("work").hidden = false;
  updateButtons();
  shown();
  setStatus("ready");
}

async function otherTab(err) {
  showError(err.message);
  if (confirm(`${err.message}\n\nAbandon that session and start here?`)) {
    await api(`/api/sessions/${err.data.open_session}/abandon`, {participant_id: state.pid});
    return start();
  }
}

function placePoint(event) {
  if (!state.s || state.s.page !== "point") return;
  const img = $("left");
  const rect = img.getBoundingClientRect();
  const size = state.config.size;
  const x = Math.min(size - 1, Math.max(0, Math.floor((event.clientX - rect.left) / rect.width * size)));
  const y = Math.min(size - 1, Math.max(0, Math.floor((event.clientY - rect.top) / rect.height * size)));
  state.point = {x, y};
  const m = $("marker");
  m.style.left = `${(x + 0.5) / size * 100}%`;
  m.style.top = `${(y + 0.5) / size * 100}%`;
  m.hidden = false;
  setStatus(`hint at (${x}, ${y}): pick its colour`);
}

async function sendHint(color) {
  if (state.busy || !state.s) return;
  const body = {participant_id: state.pid, seq: state.seq, slot: state.slot, color,
                client_ms: Math.round(performance.now() - state.shownAt)};
  if (state.s.page === "guided") {
    if (state.region === null) return setStatus("no region left: press Finish");
    body.region = state.region;
  } else {
    if (!state.point) return setStatus("first click the sketch where the hint goes");
    Object.assign(body, state.point);
  }
  state.busy = true;
  updateButtons();
  setStatus("colorizing…");
  try {
    const r = await api(`/api/sessions/${state.s.session_id}/hints`, body);
    state.seq = r.seq;
    state.hinted = true;
    state.output = r.output;
    $("result").src = r.output;
    $("left").src = r.hint_map;
    if (state.s.page === "guided") {
      state.nextRegion = r.next_region;
      state.nextGuide = r.next_guide;
      state.nextBox = r.next_box;
    }
    showError("");
    setStatus(`hint ${state.slot + 1} applied`);
    shown();
  } catch (err) {
    showError(err.message);
    setStatus("");
  } finally {
    state.busy = false;
    updateButtons();
  }
}

function next() {
  if (!state.hinted) return;
  state.slot += 1;
  state.hinted = false;
  if (state.s.page === "guided") {
    state.region = state.nextRegion;
    state.nextRegion = null;
    $("left").src = state.nextGuide;
    outline(state.nextBox);
  } else {
    state.point = null;
    $("marker").hidden = true;
  }
  $("instructions").textContent = instructions();
  setStatus(`hint ${state.slot + 1}`);
  updateButtons();
  shown();
}

function finish() {
  $("final").src = state.output;
  $("work").hidden = true;
  $("scores").reset();
  $("scores").hidden = false;
  setStatus("rate this image");
}

async function submitScores(event) {
  event.preventDefault();
  const form = new FormData($("scores"));
  try {
    await api(`/api/sessions/${state.s.session_id}/finish`,
              {participant_id: state.pid, qs: Number(form.get("qs")), cs: Number(form.get("cs"))});
    if (new URLSearchParams(location.search).get("model")) history.replaceState(null, "", "/");
    await start();
  } catch (err) {
    showError(err.message);
  }
}

async function main() {
  scoreButtons($("qs"), "qs");
  scoreButtons($("cs"), "cs");
  state.config = await api("/api/config");
  buildPalette(state.config.palette);
  $("left").addEventListener("click", placePoint);
  $("next").addEventListener("click", next);
  $("finish").addEventListener("click", finish);
  $("scores").addEventListener("submit", submitScores);
  state.pid = await participantId(false);
  await start();
}

main().catch((err) => showError(err.message));
