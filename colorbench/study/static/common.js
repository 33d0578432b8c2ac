// Shared by the study pages: the JSON API client, the participant id from the URL (?p=ID, given by the organiser:
// one lab machine serves many participants), and what the page shows while the server is unreachable.
"use strict";

class ServerDown extends Error {}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {  // no answer at all: the server is down or restarting, not an error of the participant
    throw new ServerDown("The study server cannot be reached. Your work so far is saved; this page retries " +
                         "and continues where you were as soon as the server is back.");
  }
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

async function waitForServer() {  // polls until the server answers again
  for (;;) {
    try { await api("/api/config"); return; } catch (e) { if (!(e instanceof ServerDown)) return; }
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

function participantFromUrl() {
  const pid = new URLSearchParams(location.search).get("p");
  if (pid) document.getElementById("who").textContent = `participant ${pid}`;
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

// The time the images were painted (performance.now() timeline): the first animation frame after they decoded
// is the frame that draws them. The clock is read inside that frame's callback, not taken from the callback's
// argument: the argument is when the frame *began*, which a busy main thread can date before the new image
// was even set (so TPI would include time the result was not yet on screen).
async function painted(images) {
  await Promise.all(images.map((img) => img.decode().catch(() => undefined)));
  return new Promise((resolve) => requestAnimationFrame(() => resolve(performance.now())));
}
