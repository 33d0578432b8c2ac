// The ranking page: the same hints given to every model, outputs in a random order the server keeps;
// the participant clicks them best first. Which output is which model is never sent to the page.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {pid: null, task: null, order: []};

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

async function nextTask() {
  showError("");
  let t;
  try {
    t = await api("/api/rank/tasks", {participant_id: state.pid});
  } catch (err) {
    if (err.status === 404 && /participant/.test(err.message)) {
      state.pid = await participantId(true);
      return nextTask();
    }
    throw err;
  }
  state.task = t;
  state.order = [];
  $("task").textContent = `ranking ${t.done + 1}`;
  $("hints").src = t.hint_map;
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

async function submit() {
  try {
    await api(`/api/rank/tasks/${state.task.task_id}`, {participant_id: state.pid, ranking: state.order});
    setStatus("saved");
    await nextTask();
  } catch (err) {
    showError(err.message);
  }
}

async function main() {
  $("rank-reset").addEventListener("click", () => { state.order = []; render(); });
  $("rank-submit").addEventListener("click", submit);
  state.pid = await participantId(false);
  await nextTask();
}

main().catch((err) => showError(err.message));
