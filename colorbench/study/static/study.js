// The colorization page (Fig. 10): guided mode highlights the region the model asks for next; point mode lets
// the participant click where the hint goes. A palette pick sends the hint, the server answers with the result.
// TPI (paper Table 2) is measured here: from the result being painted to the click that gives the next hint.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = {pid: null, config: null, s: null, seq: 0, slot: 0, hinted: false, region: null, nextRegion: null,
               nextGuide: null, nextBoxes: [], point: null, paintedAt: null, busy: true, output: null,
               practice: params.get("practice") === "1"};

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
    b.addEventListener("click", (event) => sendHint(c, event));
    box.appendChild(b);
  }
  $("use-custom").addEventListener("click", (event) => sendHint($("custom").value, event));
}

function view(name) {  // signin | work | rating | done: one of them at a time
  $("signin").hidden = name !== "signin";
  $("work").hidden = name !== "work";
  $("scores").hidden = name !== "rating";
  $("done").hidden = name !== "done";
  $("practice-banner").hidden = !(state.s && state.s.practice) || name === "done" || name === "signin";
  document.body.dataset.view = name;
}

// The clock starts when the shown result is on screen; buttons wait for it, so no hint predates its result.
async function markPainted() {
  state.paintedAt = await painted([$("result"), $("left")]);
  document.body.dataset.paintedAt = String(state.paintedAt);
  state.busy = false;
  updateButtons();
}

function outline(boxes) {  // [[left, top, right, bottom], ...] in fractions of the image: one per region piece
  const layer = $("boxes");
  layer.innerHTML = "";
  for (const box of boxes || []) {
    const b = document.createElement("div");
    b.className = "region-box";
    // 3 px of air around the piece, so the outline never hides its pixels
    Object.assign(b.style, {left: `calc(${box[0] * 100}% - 3px)`, top: `calc(${box[1] * 100}% - 3px)`,
                            width: `calc(${(box[2] - box[0]) * 100}% + 6px)`,
                            height: `calc(${(box[3] - box[1]) * 100}% + 6px)`});
    layer.appendChild(b);
  }
}

function updateButtons() {
  const guided = state.s && state.s.page === "guided";
  $("next").disabled = state.busy || !state.hinted || (guided && state.nextRegion === null);
  $("finish").disabled = state.busy;
  for (const b of document.querySelectorAll(".swatch, #use-custom")) b.disabled = state.busy;
  $("instructions").textContent = state.s ? instructions() : "";
}

function instructions() {
  if (state.s.page === "guided") {
    if (state.region === null) return "The model has no regions to ask for: press Finish.";
    if (state.hinted && state.nextRegion === null) {
      return "That was the last region: pick another colour to change it, or press Finish.";
    }
    return "Pick a colour for the outlined region. Press Next for the next region, Finish when you are happy.";
  }
  return "Click the sketch where the hint goes, then pick its colour. Next adds another hint; Finish ends.";
}

async function start() {
  showError("");
  const body = {participant_id: state.pid};
  if (state.practice) {
    body.practice = true;
    if (params.get("model")) body.model = params.get("model");
    if (params.get("image")) body.image_id = params.get("image");
  }
  let s;
  try {
    s = await api("/api/sessions", body);
  } catch (err) {
    if ((err.status === 404 || err.status === 400) && /participant/.test(err.message)) return signIn(err.message);
    throw err;
  }
  if (s.done) return done(s);
  show(s);
}

function signIn(message) {
  state.s = null;
  $("task").textContent = "";
  $("mode").textContent = "";
  view("signin");
  showError(message || "");
  if (state.pid) $("signin-id").value = state.pid;
  setStatus("");
}

function done(s) {
  state.s = null;
  view("done");
  $("task").textContent = `${s.tasks} of ${s.tasks} images done`;
  $("mode").textContent = "";
  $("to-rank").hidden = !s.ranking;
  $("rank-link").href = `/rank?p=${encodeURIComponent(state.pid)}`;
  delete document.body.dataset.session;
  setStatus("");
}

function show(s) {  // a new task, or the open one as the server has it (reload, restarted server)
  Object.assign(state, {s, seq: s.seq, slot: s.slot, hinted: s.hinted, region: s.region ?? null,
                        nextRegion: s.next_region ?? null, nextGuide: s.next_guide ?? null,
                        nextBoxes: s.next_boxes || [], point: s.point || null, output: s.output, busy: true});
  $("task").textContent = s.practice ? "practice" : `image ${s.task} of ${s.tasks}`;
  $("mode").textContent = s.page === "guided" ? "guided mode" : "point mode";
  document.body.dataset.page = s.page;
  document.body.dataset.session = s.session_id;
  $("end-practice").href = `/?p=${encodeURIComponent(state.pid)}`;
  $("left").src = s.page === "guided" ? (s.hinted ? s.hint_map : s.guide) : (s.hinted ? s.hint_map : s.sketch);
  $("result").src = s.output;
  outline(s.page === "guided" ? s.boxes : []);
  $("left-caption").textContent = s.page === "guided" ? "Region to colour (outlined)" : "Click to place the hint";
  placeMarker();
  setStatus(s.resumed ? "continuing where you left off" : "ready");
  if (s.rating) return rating();
  view("work");
  updateButtons();
  return markPainted();
}

function placeMarker() {
  const m = $("marker");
  m.hidden = !state.point;
  if (!state.point) return;
  const size = state.config.size;
  m.style.left = `${(state.point.x + 0.5) / size * 100}%`;
  m.style.top = `${(state.point.y + 0.5) / size * 100}%`;
}

function placePoint(event) {
  if (!state.s || state.s.page !== "point" || state.busy) return;
  const rect = $("left").getBoundingClientRect();
  const size = state.config.size;
  const x = Math.min(size - 1, Math.max(0, Math.floor((event.clientX - rect.left) / rect.width * size)));
  const y = Math.min(size - 1, Math.max(0, Math.floor((event.clientY - rect.top) / rect.height * size)));
  state.point = {x, y};
  placeMarker();
  setStatus(`hint at (${x}, ${y}): pick its colour`);
}

async function sendHint(color, event) {
  if (state.busy || !state.s) return;
  const body = {participant_id: state.pid, seq: state.seq, slot: state.slot, color,
                tpi_ms: Math.max(0, Math.round(event.timeStamp - state.paintedAt))};
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
  let r;
  try {
    r = await api(`/api/sessions/${state.s.session_id}/hints`, body);
  } catch (err) {
    return recover(err);
  }
  Object.assign(state, {seq: r.seq, hinted: true, output: r.output});
  $("result").src = r.output;
  $("left").src = r.hint_map;
  if (state.s.page === "guided") {
    Object.assign(state, {nextRegion: r.next_region, nextGuide: r.next_guide, nextBoxes: r.next_boxes});
  }
  showError("");
  setStatus(`hint ${state.slot + 1} applied`);
  await markPainted();
}

// A failed request: while the server is down, wait for it; then (or after a 409: another tab, a stale step) take
// the session as the server has it, so the page never goes on from a state the database does not hold.
async function recover(err) {
  showError(err.message);
  setStatus("");
  if (err instanceof ServerDown) {
    await waitForServer();
  } else if (err.status !== 409) {  // a refusal the page cannot mend by reloading the state: say it, stay
    state.busy = false;
    updateButtons();
    return;
  }
  try {
    await start();
    if (err instanceof ServerDown) showError("");
  } catch (again) {
    recover(again);
  }
}

function next() {  // the clock keeps running: TPI is result painted → next hint, whatever is clicked between
  if (!state.hinted || state.busy) return;
  state.slot += 1;
  state.hinted = false;
  if (state.s.page === "guided") {
    state.region = state.nextRegion;
    state.nextRegion = null;
    $("left").src = state.nextGuide;
    outline(state.nextBoxes);
  } else {
    state.point = null;
    placeMarker();
  }
  setStatus(`hint ${state.slot + 1}`);
  updateButtons();
}

async function finish() {
  if (state.busy) return;
  state.busy = true;
  updateButtons();
  try {
    await api(`/api/sessions/${state.s.session_id}/stop`, {participant_id: state.pid});
  } catch (err) {
    return recover(err);
  }
  rating();
}

function rating() {
  $("final").src = state.output;
  $("scores").reset();
  view("rating");
  setStatus("rate this image");
}

async function back() {
  try {
    await api(`/api/sessions/${state.s.session_id}/back`, {participant_id: state.pid});
  } catch (err) {
    return recover(err);
  }
  view("work");
  setStatus("");
  state.busy = true;
  await markPainted();  // the result is on screen again: the clock restarts
}

async function submitScores(event) {
  event.preventDefault();
  const form = new FormData($("scores"));
  try {
    await api(`/api/sessions/${state.s.session_id}/finish`,
              {participant_id: state.pid, qs: Number(form.get("qs")), cs: Number(form.get("cs"))});
    await start();
  } catch (err) {
    recover(err);
  }
}

async function main() {
  scoreButtons($("qs"), "qs");
  scoreButtons($("cs"), "cs");
  $("left").addEventListener("click", placePoint);
  $("next").addEventListener("click", next);
  $("finish").addEventListener("click", finish);
  $("back").addEventListener("click", back);
  $("scores").addEventListener("submit", submitScores);
  state.pid = participantFromUrl();
  if (!state.pid) return signIn("");
  for (;;) {
    try {
      state.config = await api("/api/config");
      break;
    } catch (err) {
      showError(err.message);
      await waitForServer();
    }
  }
  buildPalette(state.config.palette);
  showError("");
  await start();
}

main().catch((err) => recover(err));
