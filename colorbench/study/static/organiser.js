// The organiser's page (/organiser?key=...): enrol a new participant, follow everyone's progress, and see that
// the plan is balanced (every model first equally often, every image equally often with every model).
"use strict";

const $ = (id) => document.getElementById(id);
const key = new URLSearchParams(location.search).get("key") || "";

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

async function refresh() {
  const o = await api("/api/organiser/overview", {key});
  const body = $("people").querySelector("tbody");
  body.innerHTML = "";
  for (const p of o.participants) {
    const row = document.createElement("tr");
    cell(row, p.id);
    cell(row, String(p.position + 1));
    cell(row, p.first_model);
    cell(row, `${p.done} of ${p.tasks}`);
    cell(row, String(p.practice));
    cell(row, o.rank_tasks ? `${p.ranked} of ${o.rank_tasks}` : "–");
    cell(row, p.open ? "yes" : "");
    const link = document.createElement("a");
    link.href = `/?p=${encodeURIComponent(p.id)}`;
    link.textContent = "study page";
    cell(row, "").appendChild(link);
    body.appendChild(row);
  }
  const n = o.participants.length;
  $("period").textContent = `${n} participant(s) enrolled. The plan is fully balanced after every ` +
    `${o.period} participants` + (n % o.period ? ` (enrol ${o.period - n % o.period} more to complete a group).` : ".");
  const models = Object.keys(o.image_use);
  const images = Object.keys(o.image_use[models[0]]);
  $("balance").querySelector("thead").innerHTML =
    "<tr><th>model</th><th>first for</th>" + images.map((i) => `<th>${i}</th>`).join("") + "</tr>";
  const tb = $("balance").querySelector("tbody");
  tb.innerHTML = "";
  for (const m of models) {
    const row = document.createElement("tr");
    cell(row, m);
    cell(row, String(o.first_model[m]));
    for (const i of images) cell(row, String(o.image_use[m][i]));
    tb.appendChild(row);
  }
}

async function mint() {
  try {
    const r = await api("/api/organiser/participants", {key});
    $("minted").textContent = `enrolled ${r.participant_id}: ${location.origin}/?p=${r.participant_id}`;
    await refresh();
  } catch (err) {
    showError(err.message);
  }
}

async function main() {
  $("mint").addEventListener("click", mint);
  await refresh();
  $("work").hidden = false;
  setInterval(() => refresh().catch((err) => showError(err.message)), 10000);
}

main().catch((err) => showError(err.message));
