"""The study's HTTP server (Starlette): the colorization page, the ranking page and their JSON API.

Every request that changes something is stored (colorbench.study.db) before its response is sent. Errors are
JSON `{"error": message, "status": code}`: 400 malformed JSON or fields, 403 a session of another participant,
404 unknown participant/session/model/image, 409 another tab or a stale page, 413 a body over `max_body`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from colorbench.study.backend import MAX_RANK_HINTS, StudyModels, png
from colorbench.study.db import Conflict, Store

STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 16 * 1024  # bytes: a hint is ~100 bytes of JSON; nothing the page sends comes near this
# The palette of Fig. 10 (2): 8 hues × 3 lightnesses, greys and skin tones; the page adds a free colour picker.
PALETTE = [
    "#d32f2f", "#f57c00", "#fbc02d", "#388e3c", "#0097a7", "#1976d2", "#7b1fa2", "#c2185b",
    "#ef9a9a", "#ffcc80", "#fff59d", "#a5d6a7", "#80deea", "#90caf9", "#ce93d8", "#f48fb1",
    "#7f0000", "#8d4a00", "#7f6a00", "#1b5e20", "#004d55", "#0d3c7a", "#4a148c", "#6d0f3a",
    "#ffffff", "#c0c0c0", "#808080", "#404040", "#000000", "#ffe0bd", "#e0ac69", "#8d5524",
]


class ApiError(Exception):
    """An error the client caused; its message is shown to the participant."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def data_url(image: Any) -> str:
    return "data:image/png;base64," + base64.b64encode(png(image)).decode()


async def read_json(request: Request, max_body: int) -> dict[str, Any]:
    """The request's JSON object; ApiError 413 past `max_body` bytes (checked while reading, so a chunked
    or lying Content-Length cannot make the server buffer more), 400 for anything but a JSON object."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {max_body}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise ApiError(413, f"request body is over the limit of {max_body} bytes")
    try:
        value = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "the body must be a JSON object")
    return value


def _int(body: dict[str, Any], key: str, lo: int, hi: int) -> int:
    v = body.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ApiError(400, f"{key!r} must be an integer in {lo}..{hi}, got {v!r}")
    return v


def _color(body: dict[str, Any]) -> list[int]:
    """'#rrggbb' or [r, g, b] with 0..255 → [r, g, b]."""
    v = body.get("color")
    if isinstance(v, str) and len(v) == 7 and v[0] == "#":
        try:
            return [int(v[i : i + 2], 16) for i in (1, 3, 5)]
        except ValueError:
            pass
    if isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                                                   for c in v):
        return list(v)
    raise ApiError(400, f"'color' must be '#rrggbb' or [r, g, b] in 0..255, got {v!r}")


class StudyApp:
    """The handlers, over one StudyModels and one Store."""

    def __init__(self, backend: StudyModels, store: Store, images_per_model: int = 3, max_body: int = MAX_BODY) -> None:
        self.backend, self.store = backend, store
        self.images_per_model = max(1, min(images_per_model, len(backend.image_ids)))
        self.max_body = max_body

    # -- helpers ------------------------------------------------------------------------------
    def _participant(self, body: dict[str, Any]) -> str:
        pid = body.get("participant_id")
        if not isinstance(pid, str) or not self.store.has_participant(pid):
            raise ApiError(404, f"unknown participant {pid!r}: reload the page to get a new id")
        return pid

    def _owned_session(self, sid: str, pid: str) -> dict[str, Any]:
        s = self.store.session(sid)
        if s is None:
            raise ApiError(404, f"unknown session {sid!r}")
        if s["participant_id"] != pid:
            raise ApiError(403, f"session {sid} belongs to another participant")
        return s

    def plan(self, pid: str) -> list[tuple[str, str]]:
        """The participant's (model, image) tasks: the same images for every model, the model order rotated
        per participant (counterbalancing), both seeded by the participant id."""
        seed = int(hashlib.sha256(pid.encode()).hexdigest()[:12], 16)
        rng = random.Random(seed)
        images = rng.sample(self.backend.image_ids, self.images_per_model)
        models = list(self.backend.interactive)
        k = seed % len(models)
        return [(m, i) for m in models[k:] + models[:k] for i in images]

    # -- handlers (run in the thread pool: they run models and the database) --------------------
    def config(self) -> dict[str, Any]:
        b = self.backend
        return {"dataset": b.dataset.name, "size": b.size, "images": b.image_ids, "palette": PALETTE,
                "models": [{"label": m, "page": b.page(m)} for m in b.interactive],
                "rank_models": len(b.rankable), "images_per_model": self.images_per_model}

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        plan = self.plan(pid)
        model, image_id = body.get("model"), body.get("image_id")
        if model is None and image_id is None:
            done = self.store.done_tasks(pid)
            todo = [t for t in plan if t not in done]
            if not todo:
                return {"done": True, "tasks": len(plan)}
            model, image_id = todo[0]
        if model not in self.backend.interactive:
            raise ApiError(404, f"unknown model {model!r}; this study has {', '.join(self.backend.interactive)}")
        if image_id not in self.backend.image_ids:
            raise ApiError(404, f"unknown image {image_id!r} in dataset {self.backend.dataset.name}")
        page = self.backend.page(model)
        automatic = self.backend.colorize(model, image_id, [])[0]  # before the clock starts: the first result
        try:
            sid = self.store.open_session(pid, model, "region" if page == "guided" else "point",
                                          self.backend.dataset.name, image_id, self.backend.size,
                                          self.backend.checkpoints[model])
        except Conflict as exc:  # the page offers to abandon that session, so it gets its id
            raise ApiError(409, str(exc), open_session=self.store.open_session_of(pid)) from exc
        out = {"session_id": sid, "model": model, "page": page, "image_id": image_id, "seq": 0,
               "task": len(self.store.done_tasks(pid)) + 1, "tasks": len(plan), "point_size": self.backend.point_size,
               "sketch": data_url(self.backend.image(image_id).sketch_rgb()), "output": data_url(automatic)}
        if page == "guided":
            order = self.backend.region_order(model, image_id)
            out["regions"] = order
            out["region"] = order[0] if order else None
            out["guide"] = data_url(self.backend.guide(model, image_id, [], out["region"]))
            out["box"] = self.backend.region_box(model, image_id, out["region"])
        return out

    def hint(self, sid: str, body: dict[str, Any], received: float) -> dict[str, Any]:
        pid = self._participant(body)
        s = self._owned_session(sid, pid)
        if s["status"] != "open":
            raise ApiError(409, f"session {sid} is {s['status']}: start a new one")
        rows = self.store.hints(sid)
        seq = _int(body, "seq", 0, 10_000)
        if seq != len(rows):
            raise ApiError(409, f"this page is at step {seq} but session {sid} is at step {len(rows)} (another "
                           "tab?): reload the page")
        last_slot = rows[-1]["slot"] if rows else -1
        slot = _int(body, "slot", 0, 10_000)
        if slot not in (max(last_slot, 0), last_slot + 1):
            raise ApiError(400, f"'slot' must be {max(last_slot, 0)} (change the last hint) or {last_slot + 1} "
                           f"(a new one), got {slot}")
        color, size = _color(body), self.backend.size
        order = []
        if s["hint_kind"] == "region":
            order = self.backend.region_order(s["model"], s["image_id"])
            region = body.get("region")
            if region not in order:
                raise ApiError(400, f"'region' must be one of the model's regions {order}, got {region!r}")
            hint = {"kind": "region", "region": region, "color": color}
        else:
            hint = {"kind": "point", "x": _int(body, "x", 0, size - 1), "y": _int(body, "y", 0, size - 1),
                    "size": self.backend.point_size, "color": color}
        client_ms = body.get("client_ms")
        client_ms = float(client_ms) if isinstance(client_ms, (int, float)) and not isinstance(client_ms, bool) else None
        rows.append({"seq": seq, "slot": slot, "hint": hint})
        output, hint_map = self.backend.colorize(s["model"], s["image_id"], rows)
        shown = rows[-2]["responded_at"] if len(rows) > 1 else s["started_at"]
        try:
            self.store.add_interaction(sid, seq, slot, hint, shown, received, client_ms, png(output))
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        out = {"seq": seq + 1, "slot": slot, "output": data_url(output), "hint_map": data_url(hint_map)}
        if s["hint_kind"] == "region":
            hinted = {r["hint"]["region"] for r in rows}
            nxt = next((r for r in order if r not in hinted), None)
            out["next_region"] = nxt
            out["next_guide"] = data_url(self.backend.guide(s["model"], s["image_id"], rows, nxt))
            out["next_box"] = self.backend.region_box(s["model"], s["image_id"], nxt)
        return out

    def finish(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        s = self._owned_session(sid, pid)
        qs, cs = _int(body, "qs", 1, 5), _int(body, "cs", 1, 5)
        rows = self.store.hints(sid)
        final = png(self.backend.colorize(s["model"], s["image_id"], rows)[0])  # also without any hint
        try:
            self.store.finish(sid, qs, cs, final)
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"ok": True, "interactions": len(rows)}

    def abandon(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        self._owned_session(sid, pid)
        try:
            self.store.abandon(sid)
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"ok": True}

    def rank_task(self, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        b = self.backend
        if len(b.rankable) < 2:
            raise ApiError(404, "this study has no ranking task: start the server with --rank-models A,B,...")
        k = self.store.rank_count(pid)
        rng = random.Random(f"{pid}|{k}")
        image_id = b.image_ids[(int(hashlib.sha256(pid.encode()).hexdigest()[:8], 16) + k) % len(b.image_ids)]
        n = rng.randint(1, MAX_RANK_HINTS)
        shown = rng.sample(b.rankable, len(b.rankable))  # the page never learns which model is which
        hint_map, outs, n = b.rank_outputs(image_id, n)  # n: the hints actually given
        tid = self.store.new_rank_task(pid, b.dataset.name, image_id, n, shown)
        return {"task_id": tid, "n_hints": n, "done": k, "hint_map": data_url(hint_map),
                "sketch": data_url(b.image(image_id).sketch_rgb()),
                "outputs": [data_url(outs[label]) for label in shown]}

    def rank(self, tid: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        t = self.store.rank_task(tid)
        if t is None:
            raise ApiError(404, f"unknown rank task {tid!r}")
        if t["participant_id"] != pid:
            raise ApiError(403, f"rank task {tid} belongs to another participant")
        order = body.get("ranking")
        n = len(t["shown"])
        if not isinstance(order, list) or sorted(order) != list(range(n)) or any(isinstance(i, bool) for i in order):
            raise ApiError(400, f"'ranking' must list the outputs 0..{n - 1} best first, each once, got {order!r}")
        try:
            self.store.save_ranking(tid, [t["shown"][i] for i in order])
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"ok": True}


def create_app(backend: StudyModels, store: Store, images_per_model: int = 3, max_body: int = MAX_BODY) -> Starlette:
    """The ASGI app: pages at / and /rank, static files at /static, the API under /api."""
    study = StudyApp(backend, store, images_per_model, max_body)

    def api(fn: Callable[..., dict[str, Any]], *params: str, body: bool = True,
            timed: bool = False) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> JSONResponse:
            received = time.time()  # before the body is read: the participant's click, not the upload
            try:
                args: list[Any] = [request.path_params[p] for p in params]
                if body:
                    args.append(await read_json(request, study.max_body))
                if timed:
                    args.append(received)
                return JSONResponse(await run_in_threadpool(fn, *args))
            except ApiError as exc:
                return _error(exc.status, str(exc), **exc.extra)
            except Conflict as exc:
                return _error(409, str(exc))
        return endpoint

    def page(name: str) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
        return endpoint

    async def new_participant(request: Request) -> JSONResponse:
        return JSONResponse({"participant_id": await run_in_threadpool(store.new_participant)})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return _error(404, f"no such page or endpoint: {request.method} {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return _error(405, f"{request.method} is not allowed on {request.url.path}")

    async def internal(request: Request, exc: Exception) -> JSONResponse:  # a bug: JSON too, the traceback is logged
        return _error(500, f"internal error ({type(exc).__name__}); nothing of this request was stored")

    routes = [
        Route("/", page("study.html")),
        Route("/rank", page("rank.html")),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/config", api(study.config, body=False)),
        Route("/api/participants", new_participant, methods=["POST"]),
        Route("/api/sessions", api(study.start), methods=["POST"]),
        Route("/api/sessions/{sid}/hints", api(study.hint, "sid", timed=True), methods=["POST"]),
        Route("/api/sessions/{sid}/finish", api(study.finish, "sid"), methods=["POST"]),
        Route("/api/sessions/{sid}/abandon", api(study.abandon, "sid"), methods=["POST"]),
        Route("/api/rank/tasks", api(study.rank_task), methods=["POST"]),
        Route("/api/rank/tasks/{tid}", api(study.rank, "tid"), methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed,
                                                              Exception: internal})
    app.state.study = study
    return app
