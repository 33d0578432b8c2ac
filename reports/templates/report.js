// report.html's image browser: sorts the per-image table and opens an image's view (#image=ID).
// Everything comes from the inline JSON; nothing is fetched.
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const NAMES = Object.fromEntries(DATA.variants.map((v) => [v.label, v.name]));
const table = document.getElementById("images");
const heads = Array.from(table.querySelectorAll("th[data-col]"));
const onlyPictured = document.getElementById("pictured-only");
let sort = { col: "id", dir: 1 };

function value(image, col) {
  if (col === "id") return image.id;
  const [label, k] = col.split("|");
  const row = image.v[label];
  return row ? row[Number(k)] : null;
}

function fmt(x, col) {
  if (x === null || x === undefined) return "–";
  return col.endsWith("|2") ? String(x) : x.toFixed(2);
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.assign(node, attrs || {});
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderTable() {
  const rows = DATA.images.filter((im) => !onlyPictured.checked || im.pictured);
  rows.sort((a, b) => {
    const x = value(a, sort.col), y = value(b, sort.col);
    if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1; // missing last
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * sort.dir || (a.id < b.id ? -1 : 1);
  });
  const body = document.createElement("tbody");
  for (const im of rows) {
    const tr = el("tr", { className: im.pictured ? "" : "nopic" });
    tr.dataset.id = im.id;
    for (const th of heads) tr.appendChild(el("td", {}, th.dataset.col === "id" ? im.id : fmt(value(im, th.dataset.col), th.dataset.col)));
    body.appendChild(tr);
  }
  table.replaceChild(body, table.tBodies[0]);
  for (const th of heads) {
    th.setAttribute("aria-sort", th.dataset.col === sort.col ? (sort.dir > 0 ? "ascending" : "descending") : "none");
  }
  return rows;
}

function sortBy(col, dir) {
  sort = { col, dir };
  return renderTable();
}

function tiles(uri, levels, size) {
  // One strip image holds all levels; tile n shows its n-th part through a background offset.
  const row = [];
  for (let n = 0; n < levels; n++) {
    const t = el("div", { className: "tile", title: "n = " + n });
    t.style.backgroundImage = "url(" + uri + ")";
    t.style.backgroundSize = levels * 100 + "% 100%";
    t.style.backgroundPosition = (levels > 1 ? (100 * n) / (levels - 1) : 0) + "% 0";
    row.push(t);
  }
  return row;
}

function gridRow(label, cells, levels) {
  const row = el("div", { className: "row" });
  row.style.setProperty("--levels", levels);
  row.appendChild(el("div", { className: "label" }, label));
  for (const c of cells) row.appendChild(c);
  return row;
}

function numbersTable(image) {
  const t = el("table", { className: "numbers" });
  const head = t.createTHead().insertRow();
  const gainN = Math.max(0, ...DATA.variants.map((v) => v.gain_n || 0));
  for (const h of ["model", "PSNR n=0", "E_G", "NRI", "gain 0→" + gainN]) head.appendChild(el("th", {}, h));
  for (const v of DATA.variants) {
    const r = t.insertRow();
    r.appendChild(el("td", {}, v.name));
    (image.v[v.label] || [null, null, null, null]).forEach((x, k) => r.appendChild(el("td", {}, fmt(x, "|" + k))));
  }
  return t;
}

function openView(id) {
  const image = DATA.images.find((im) => im.id === id);
  if (!image) return;
  const body = document.getElementById("view-body");
  body.replaceChildren(numbersTable(image));
  document.getElementById("view-title").textContent = id;
  const pics = DATA.pictures[id];
  if (!pics) {
    body.appendChild(el("p", { className: "note" },
      "No pictures were kept for this image. Keep them with: colorbench run … --figure-images " + id));
  } else {
    // First row: sketch, ground truth and each automatic model's one output; then per conditional model
    // its hints and outputs at n = 0..K.
    const pair = el("div", { className: "pair" });
    const big = [["sketch", pics.sketch], ["ground truth", pics.gt]];
    for (const v of DATA.variants) {
      const p = pics.variants[v.label];
      if (p && p.levels === 1) big.push([v.name + " (no hints)", p.outputs]);
    }
    for (const [name, uri] of big) {
      const f = el("figure");
      f.appendChild(el("img", { className: "big", src: uri, alt: name }));
      f.appendChild(el("figcaption", {}, name));
      pair.appendChild(f);
    }
    body.appendChild(pair);
    for (const v of DATA.variants) {
      const p = pics.variants[v.label];
      if (!p || p.levels === 1) continue;
      const block = el("div", { className: "model" });
      block.dataset.label = v.label;
      block.appendChild(el("h3", {}, v.name));
      const ns = [];
      for (let n = 0; n < p.levels; n++) ns.push(el("div", { className: "n" }, "n = " + n));
      block.appendChild(gridRow("", ns, p.levels));
      block.appendChild(gridRow(v.region ? "hints (red: region asked)" : "hints (red: newest)", tiles(p.hints, p.levels), p.levels));
      const outs = gridRow("output", tiles(p.outputs, p.levels), p.levels);
      outs.classList.add("outputs");
      block.appendChild(outs);
      body.appendChild(block);
    }
  }
  document.getElementById("view").hidden = false;
  document.getElementById("report").hidden = true;
  window.scrollTo(0, 0);
}

function closeView() {
  document.getElementById("view").hidden = true;
  document.getElementById("report").hidden = false;
}

function route() {
  const m = /^#image=(.+)$/.exec(location.hash);
  if (m) openView(decodeURIComponent(m[1]));
  else closeView();
}

for (const th of heads) {
  th.addEventListener("click", () => sortBy(th.dataset.col, sort.col === th.dataset.col ? -sort.dir : 1));
}
table.addEventListener("click", (e) => {
  const tr = e.target.closest("tbody tr");
  if (tr) location.hash = "image=" + encodeURIComponent(tr.dataset.id);
});
for (const b of document.querySelectorAll("button.pick")) {
  // Worst / best of a model by its E_G (PSNR at n = 0 for automatic models): the table sorted so, and the
  // worst (best) image that has pictures opened.
  b.addEventListener("click", () => {
    const v = DATA.variants.find((x) => x.label === b.dataset.label);
    const rows = sortBy(v.label + (v.conditional ? "|1" : "|0"), Number(b.dataset.dir)).filter((im) => im.pictured);
    if (rows.length) location.hash = "image=" + encodeURIComponent(rows[0].id);
  });
}
onlyPictured.addEventListener("change", renderTable);
window.addEventListener("hashchange", route);
renderTable();
route();
