// The ranking page: the same hints given to every model, outputs in a random order the server keeps;
// the participant clicks them best first. Which output is which model is never sent to the page.
// The hints are drawn as circles on an enlarged sketch: a 3 px hint on a 64 px image would be hard to see.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {pid: null, task: null, order: [],
               practice: new URLSearchParams(location.search).get("practice") === "1"};

function render() {
  const cards = document.querySelectorAll(".candidate");
  cards.forEach((card, i) => {
    const place = state.order.indexOf(i);
    card.classList.toggle("ranked", place >= 0);
    card.querySelector(".rank").textContent = place >= 0 ? String(place + 1) : "";
    card.querySelector(".rank").hidden = place < 0;
  });
  $("rank-submit").disabled = state.order.length !== cards.length;
}

function drawMarkers(markers) {  // [{x, y, half, color}] in fractions of the image
  const layer = $("markers");
  layer.innerHTML = "";
  for (const m of markers) {
    const dot = document.createElement("div");
    dot.className = "hint-dot";
    const size = `max(18px, ${m.half * 200}%)`;
    Object.assign(dot.style, {left: `${m.x * 100}%`, top: `${m.y * 100}%`, width: size, height: size,
                              background: m.color});
    dot.title = m.color;
    layer.appendChild(dot);
  }
}

async function nextTask() {
  showError("");
  let t;
  try {
    const body = {participant_id: state.pid};
    if (state.practice) body.practice = true;
    t = await api("/api/rank/tasks", body);
  } catch (err) {
    if ((err.status === 404 || err.status === 400) && /participant/.test(err.message)) return signIn(err.message);
    throw err;
  }
  if (t.done) {
    $("work").hidden = true;
    $("done").hidden = false;
    $("task").textContent = `${t.tasks} of ${t.tasks} rankings done`;
    setStatus("");
    return;
  }
  state.task = t;
  state.order = [];
  $("task").textContent = t.practice ? "practice" : `ranking ${t.task} of ${t.tasks}`;
  $("practice-banner").hidden = !t.practice;
  $("end-practice").href = `/rank?p=${encodeURIComponent(state.pid)}`;
  document.body.dataset.task = t.task_id;
  $("sketch").src = t.sketch;
  drawMarkers(t.markers);
  const box = $("candidates");
  box.innerHTML = "";
  t.outputs.forEach((src, i) => {
    const card = document.createElement("figure");
    card.className = "candidate";
    card.dataset.index = String(i);
    card.innerHTML = `<span class="rank" hidden></span><img alt="result ${i + 1}">`;
    card.querySelector("img").src = src;
    card.addEventListener("click", () => {
      if (!state.order.includes(i)) state.order.push(i);
      render();
    });
    box.appendChild(card);
  });
  $("work").hidden = false;
  render();
  setStatus(`${t.n_hints} hint(s)`);
}

function signIn(message) {
  $("work").hidden = true;
  $("signin").hidden = false;
  showError(message || "");
}

async function submit() {
  try {
    await api(`/api/rank/tasks/${state.task.task_id}`, {participant_id: state.pid, ranking: state.order});
    setStatus("saved");
    await nextTask();
  } catch (err) {
    showError(err.message);
    if (err instanceof ServerDown) {
      await waitForServer();
      showError("");
      await nextTask();
    }
  }
}

async function main() {
  $("rank-reset").addEventListener("click", () => { state.order = []; render(); });
  $("rank-submit").addEventListener("click", submit);
  state.pid = participantFromUrl();
  if (!state.pid) return signIn("");
  await nextTask();
}

main().catch((err) => showError(err.message));
