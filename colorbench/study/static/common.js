// Shared by the study pages: the JSON API client and the anonymous participant id (kept in localStorage,
// so every tab of one browser is the same participant; the server refuses a second open session).
"use strict";

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  let data;
  try { data = await response.json(); } catch (e) { data = {error: `HTTP ${response.status}`}; }
  if (!response.ok) {
    const err = new Error(data.error || `HTTP ${response.status}`);
    err.status = response.status;
    err.data = data;
    throw err;
  }
  return data;
}

const PARTICIPANT_KEY = "colorbench-study-participant";

async function participantId(forceNew) {
  let pid = forceNew ? null : localStorage.getItem(PARTICIPANT_KEY);
  if (!pid) {
    pid = (await api("/api/participants", {})).participant_id;
    localStorage.setItem(PARTICIPANT_KEY, pid);
  }
  document.getElementById("who").textContent = `participant ${pid.slice(0, 8)}`;
  return pid;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(message) {
  document.getElementById("status").textContent = message;
}
