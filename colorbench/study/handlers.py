"""The study's request handlers (`StudyApp`) over one StudyModels and one Store: participants, colorization
sessions, the ranking task, the organiser's page. colorbench.study.app routes HTTP requests to them."""

from __future__ import annotations

import random
import secrets
from typing import Any

from colorbench.study.backend import MAX_RANK_HINTS, StudyModels, png
from colorbench.study.db import Conflict, Store
from colorbench.study.design import PARTICIPANT_ID, Design, rank_images
from colorbench.study.payloads import (
    MAX_BODY,
    ApiError,
    bool_field,
    color_field,
    data_url,
    int_field,
    name_field,
    shorten,
    tpi_field,
)

# The palette of Fig. 10 (2): 8 hues × 3 lightnesses, greys and skin tones; the page adds a free colour picker.
PALETTE = [
    "#d32f2f", "#f57c00", "#fbc02d", "#388e3c", "#0097a7", "#1976d2", "#7b1fa2", "#c2185b",
    "#ef9a9a", "#ffcc80", "#fff59d", "#a5d6a7", "#80deea", "#90caf9", "#ce93d8", "#f48fb1",
    "#7f0000", "#8d4a00", "#7f6a00", "#1b5e20", "#004d55", "#0d3c7a", "#4a148c", "#6d0f3a",
    "#ffffff", "#c0c0c0", "#808080", "#404040", "#000000", "#ffe0bd", "#e0ac69", "#8d5524",
]


class StudyApp:
    """The handlers, over one StudyModels and one Store."""

    def __init__(self, backend: StudyModels, store: Store, images_per_model: int = 3, max_body: int = MAX_BODY,
                 rank_tasks: int = 10) -> None:
        self.backend, self.store = backend, store
        self.images_per_model = max(1, min(images_per_model, len(backend.image_ids)))
        self.design = Design(tuple(backend.interactive), tuple(backend.image_ids), self.images_per_model)
        self.rank_tasks = rank_tasks if len(backend.rankable) >= 2 else 0
        self.max_body = max_body
        store.fix_design(self.design.describe() | {"dataset": backend.dataset.name, "size": backend.size,
                                                   "rank_models": backend.rankable, "rank_tasks": self.rank_tasks})
        self.organiser_key = store.organiser_key()

    # -- participants -----------------------------------------------------------------------------
    def enrol(self, pids: list[str]) -> list[str]:
        """Enrol these ids (those already enrolled keep their plan) → the ids newly enrolled."""
        for pid in pids:
            if not PARTICIPANT_ID.fullmatch(pid):
                raise ValueError(f"participant id {pid!r}: use 1-32 letters, digits, '-' or '_'")
        return [pid for pid in pids if self.store.enrol(pid, self.design.plan)]

    def mint(self) -> str:
        """Enrol the next free id P01, P02, ... (the organiser's "new participant")."""
        taken = set(self.store.participant_ids())
        n = len(taken) + 1
        while f"P{n:02d}" in taken:
            n += 1
        pid = f"P{n:02d}"
        if not self.store.enrol(pid, self.design.plan):  # another organiser tab took it: the next one
            return self.mint()
        return pid

    def _participant(self, body: dict[str, Any]) -> str:
        pid = body.get("participant_id")
        if not isinstance(pid, str) or not PARTICIPANT_ID.fullmatch(pid):
            raise ApiError(400, f"'participant_id' must be the id the organiser gave you, got {shorten(pid)}")
        if not self.store.has_participant(pid):
            raise ApiError(404, f"unknown participant {pid!r}: check the id, or ask the organiser for one")
        return pid

    def _owned_session(self, sid: str, pid: str) -> dict[str, Any]:
        s = self.store.session(sid)
        if s is None:
            raise ApiError(404, f"unknown session {sid!r}")
        if s["participant_id"] != pid:
            raise ApiError(403, f"session {sid} belongs to another participant")
        return s

    def plan(self, pid: str) -> list[tuple[str, str]]:
        """The participant's (model, image) tasks as stored at enrolment (colorbench.study.design)."""
        return self.store.plan_of(pid)

    # -- handlers (run in the thread pool: they run models and the database) --------------------
    def config(self) -> dict[str, Any]:
        b = self.backend
        return {"dataset": b.dataset.name, "size": b.size, "images": b.image_ids, "palette": PALETTE,
                "models": [{"label": m, "page": b.page(m)} for m in b.interactive],
                "rank_models": len(b.rankable), "rank_tasks": self.rank_tasks,
                "images_per_model": self.images_per_model}

    def start(self, body: dict[str, Any]) -> dict[str, Any]:
        """The participant's open session as it stands (a reload, a restarted server), else a new one: the next
        task of the plan, or with `practice` a practice task (any model and image, never in the tables)."""
        pid = self._participant(body)
        practice = bool_field(body, "practice")
        if not practice and (body.get("model") is not None or body.get("image_id") is not None):
            raise ApiError(400, "a chosen model or image is for practice only (practice: true); the study's tasks "
                           "come from the participant's plan")
        open_sid = self.store.open_session_of(pid)
        if open_sid is not None:
            s = self.store.session(open_sid)
            assert s is not None
            if not (s["practice"] and not practice):
                return self.state(s)
            self.store.abandon(open_sid)  # "Start the study" ends the practice image on the page
        plan = self.plan(pid)
        done = self.store.done_positions(pid)
        if practice:
            position = None
            model = name_field(body, "model", self.backend.interactive) if body.get("model") is not None \
                else self._practice_model(pid)
            used = {img for _, img in plan}
            spare = [i for i in self.backend.image_ids if i not in used] or self.backend.image_ids
            image_id = name_field(body, "image_id", self.backend.image_ids) if body.get("image_id") is not None \
                else spare[0]
        else:
            todo = [i for i in range(len(plan)) if i not in done]
            if not todo:
                return {"done": True, "tasks": len(plan), "ranking": self.rank_tasks > 0}
            position = todo[0]
            model, image_id = plan[position]
        try:
            sid = self.store.open_session(pid, model, "region" if self.backend.page(model) == "guided" else "point",
                                          self.backend.dataset.name, image_id, self.backend.size,
                                          self.backend.checkpoints[model], position)
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return self.state(self.store.session(sid))

    def _practice_model(self, pid: str) -> str:
        """Practice goes through the models in turn, so a participant tries every page."""
        return self.backend.interactive[self.store.practice_count(pid) % len(self.backend.interactive)]

    def state(self, s: dict[str, Any] | None) -> dict[str, Any]:
        """Everything the page needs to show session `s` where the participant left it: the latest result, the
        hints so far, the current region (or point), whether the rating form was open."""
        assert s is not None
        b, model, image_id = self.backend, s["model"], s["image_id"]
        rows = self.store.hints(s["id"])
        plan = self.plan(s["participant_id"])
        hinted = bool(rows)
        last = rows[-1] if rows else None
        output, hint_map = b.colorize(model, image_id, rows)  # the result for the hints so far (automatic: none)
        out = {"session_id": s["id"], "model": model, "page": b.page(model), "image_id": image_id,
               "practice": bool(s["practice"]), "task": None if s["practice"] else s["position"] + 1,
               "tasks": len(plan),
               "seq": len(rows), "slot": last["slot"] if last else 0, "hinted": hinted,
               "rating": s["stopped_at"] is not None, "point_size": b.point_size,
               "sketch": data_url(b.image(image_id).sketch_rgb()), "output": data_url(output),
               "hint_map": data_url(hint_map), "resumed": hinted or s["stopped_at"] is not None}
        if last is not None and last["hint"]["kind"] == "point":
            out["point"] = {"x": last["hint"]["x"], "y": last["hint"]["y"]}
        if out["page"] == "guided":
            order = b.region_order(model, image_id)
            done = {r["hint"]["region"] for r in rows}
            region = last["hint"]["region"] if last else next(iter(order), None)
            out |= {"regions": order, "region": region, "boxes": b.region_boxes(model, image_id, region),
                    "guide": data_url(b.guide(model, image_id, rows, region))}
            if hinted:
                out |= self._next_region(model, image_id, rows, order, done)
        return out

    def _next_region(self, model: str, image_id: str, rows: list[dict[str, Any]], order: list[int],
                     done: set[int]) -> dict[str, Any]:
        nxt = next((r for r in order if r not in done), None)
        return {"next_region": nxt, "next_guide": data_url(self.backend.guide(model, image_id, rows, nxt)),
                "next_boxes": self.backend.region_boxes(model, image_id, nxt)}

    def hint(self, sid: str, body: dict[str, Any], received: float) -> dict[str, Any]:
        pid = self._participant(body)
        s = self._owned_session(sid, pid)
        if s["status"] != "open":
            raise ApiError(409, f"session {sid} is {s['status']}: start a new one")
        rows = self.store.hints(sid)
        seq = int_field(body, "seq", 0, 10_000)
        if seq != len(rows):
            raise ApiError(409, f"this page is at step {seq} but session {sid} is at step {len(rows)} (another "
                           "tab?): reload the page")
        last_slot = rows[-1]["slot"] if rows else -1
        slot = int_field(body, "slot", 0, 10_000)
        if slot not in (max(last_slot, 0), last_slot + 1):
            raise ApiError(400, f"'slot' must be {max(last_slot, 0)} (change the last hint) or {last_slot + 1} "
                           f"(a new one), got {slot}")
        color, size = color_field(body), self.backend.size
        order: list[int] = []
        if s["hint_kind"] == "region":
            order = self.backend.region_order(s["model"], s["image_id"])
            region = int_field(body, "region", 0, 10_000)
            if region not in order:
                raise ApiError(400, f"'region' must be one of the model's regions {order}, got {region}")
            hint: dict[str, Any] = {"kind": "region", "region": region, "color": color}
        else:
            hint = {"kind": "point", "x": int_field(body, "x", 0, size - 1), "y": int_field(body, "y", 0, size - 1),
                    "size": self.backend.point_size, "color": color}
        tpi_ms = tpi_field(body)
        rows.append({"seq": seq, "slot": slot, "hint": hint})
        output, hint_map = self.backend.colorize(s["model"], s["image_id"], rows)
        shown = rows[-2]["responded_at"] if len(rows) > 1 else s["started_at"]
        try:
            self.store.add_interaction(sid, seq, slot, hint, shown, received, tpi_ms, png(output))
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        out = {"seq": seq + 1, "slot": slot, "output": data_url(output), "hint_map": data_url(hint_map)}
        if s["hint_kind"] == "region":
            out |= self._next_region(s["model"], s["image_id"], rows, order, {r["hint"]["region"] for r in rows})
        return out

    def stop(self, sid: str, body: dict[str, Any], received: float | None) -> dict[str, Any]:
        """The Finish click (`received`): the image's time ends here, the rating form's time starts (both are
        reported). None is Back from the rating form to the image: the Finish click is forgotten, the next counts."""
        pid = self._participant(body)
        self._owned_session(sid, pid)
        try:
            self.store.stop(sid, received)
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"ok": True}

    def back(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        """Back from the rating form to the image (see `stop`)."""
        return self.stop(sid, body, None)

    def finish(self, sid: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        s = self._owned_session(sid, pid)
        qs, cs = int_field(body, "qs", 1, 5), int_field(body, "cs", 1, 5)
        rows = self.store.hints(sid)
        final = self.store.last_output(sid) or png(self.backend.colorize(s["model"], s["image_id"], rows)[0])
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

    # -- the ranking task (Table 6, supplement E.2) -------------------------------------------------
    def rank_task(self, body: dict[str, Any]) -> dict[str, Any]:
        """The participant's next unranked task of `rank_tasks` planned ones (the same one after a reload), or
        done; with `practice` a practice task (never in Table 6). Images rotate over the participants
        (design.rank_images; practice from the end of the list); the number of hints and the display order are
        seeded by (participant, task), so a task is shown the same way every time."""
        pid = self._participant(body)
        practice = bool_field(body, "practice")
        b = self.backend
        if self.rank_tasks == 0:
            raise ApiError(404, "this study has no ranking task: start the server with --rank-models A,B,...")
        if practice:
            k = self.store.next_practice_rank(pid)
            image_id = b.image_ids[k % len(b.image_ids)]  # k = -1, -2, ...: the last images
        else:
            k = self.store.ranked_count(pid)
            if k >= self.rank_tasks:
                return {"done": True, "tasks": self.rank_tasks}
            image_id = rank_images(self.store.position(pid) or 0, self.rank_tasks, b.image_ids)[k]
        rng = random.Random(f"{pid}|{k}")
        n = rng.randint(1, MAX_RANK_HINTS)
        shown = rng.sample(b.rankable, len(b.rankable))  # the page never learns which model is which

        def make() -> tuple[str, str, int, list[str]]:
            return b.dataset.name, image_id, b.rank_hints(image_id, n)[1], shown

        t = self.store.rank_task_at(pid, k, make)
        hint_map, outs, _ = b.rank_outputs(t["image_id"], n)
        return {"task_id": t["id"], "practice": practice, "n_hints": t["n_hints"], "task": None if practice else k + 1,
                "tasks": self.rank_tasks, "hint_map": data_url(hint_map),
                "sketch": data_url(b.image(t["image_id"]).sketch_rgb()), "markers": b.rank_markers(t["image_id"], n),
                "outputs": [data_url(outs[m]) for m in t["shown"]]}

    def rank(self, tid: str, body: dict[str, Any]) -> dict[str, Any]:
        pid = self._participant(body)
        t = self.store.rank_task(tid)
        if t is None:
            raise ApiError(404, f"unknown rank task {tid!r}")
        if t["participant_id"] != pid:
            raise ApiError(403, f"rank task {tid} belongs to another participant")
        order = body.get("ranking")
        n = len(t["shown"])
        if (not isinstance(order, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in order)
                or sorted(order) != list(range(n))):
            raise ApiError(400, f"'ranking' must list the outputs 0..{n - 1} best first, each once, got "
                           f"{shorten(order)}")
        try:
            self.store.save_ranking(tid, [t["shown"][i] for i in order])
        except Conflict as exc:
            raise ApiError(409, str(exc)) from exc
        return {"ok": True}

    # -- the organiser's page ----------------------------------------------------------------------
    def _organiser(self, body: dict[str, Any]) -> None:
        key = body.get("key")
        if not isinstance(key, str) or not secrets.compare_digest(key, self.organiser_key):
            raise ApiError(403, "wrong organiser key: use the organiser URL `colorbench study serve` printed")

    def overview(self, body: dict[str, Any]) -> dict[str, Any]:
        """Participants with their progress and the plan's balance (colorbench.study.design)."""
        self._organiser(body)
        data = self.store.frames()
        planned: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(data["plan"], key=lambda r: r["position"]):
            planned.setdefault(row["participant_id"], []).append(row)
        people = []
        for p in sorted(data["participants"], key=lambda r: r["position"]):
            mine = [s for s in data["sessions"] if s["participant_id"] == p["id"]]
            people.append({"id": p["id"], "position": p["position"], "tasks": len(planned.get(p["id"], [])),
                           "done": sum(s["status"] == "finished" and not s["practice"] for s in mine),
                           "practice": sum(bool(s["practice"]) for s in mine),
                           "open": any(s["status"] == "open" for s in mine),
                           "ranked": sum(t["participant_id"] == p["id"] and t["ranking"] is not None
                                         and not t["practice"] for t in data["rank_tasks"]),
                           "first_model": planned[p["id"]][0]["model"] if planned.get(p["id"]) else None})
        use: dict[str, dict[str, int]] = {m: dict.fromkeys(self.backend.image_ids, 0) for m in self.design.models}
        for row in data["plan"]:
            use[row["model"]][row["image_id"]] += 1
        first = {m: sum(p["first_model"] == m for p in people) for m in self.design.models}
        return {"participants": people, "period": self.design.period, "first_model": first, "image_use": use,
                "rank_tasks": self.rank_tasks}

    def new_participant(self, body: dict[str, Any]) -> dict[str, Any]:
        self._organiser(body)
        return {"participant_id": self.mint()}
