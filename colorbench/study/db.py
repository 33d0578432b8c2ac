"""The study's database: participants and their plans, colorization sessions, interactions, rankings (SQLAlchemy Core;
the tables are in colorbench.study.schema).

SQLite by default (`sqlite:///study.db`, or a plain file path); any SQLAlchemy URL for a shared server. Every
write is its own transaction, committed before the HTTP response: a killed server loses at most the request
it was answering. SQLite runs in WAL mode with synchronous=FULL, so a commit survives a crash of the process
or the machine. Times are UNIX seconds (float, server clock). The schema is versioned (`meta.schema_version`):
a database of another version is refused with a message, never half-read.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from colorbench.errors import UsageError
from colorbench.study.schema import (
    META,
    SCHEMA_VERSION,
    interactions,
    meta,
    participants,
    plan,
    rank_tasks,
    sessions,
)


class Conflict(Exception):
    """A write that contradicts the stored state (another tab, a stale page); becomes HTTP 409."""


def database_url(db: str) -> str:
    """A SQLAlchemy URL as given, or a file path → sqlite:///path."""
    return db if "://" in db else f"sqlite:///{Path(db).expanduser()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the report) never block the server's writes
    cur.execute("PRAGMA synchronous=FULL")  # a committed interaction survives a power cut too
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def require_folder(db: str) -> None:
    """UsageError naming --db when a SQLite file's folder does not exist (SQLite would fail with a traceback)."""
    if "://" not in db:
        folder = Path(db).expanduser().resolve().parent
        if not folder.is_dir():
            raise UsageError(f"--db {db}: folder {folder} does not exist (create it, or choose another path)")


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    """All reads and writes of the study; one short transaction each."""

    def __init__(self, db: str) -> None:
        url = database_url(db)
        require_folder(db)
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._check_version(db)
        META.create_all(self.engine)
        with self.engine.begin() as c:
            if c.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first() is None:
                c.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))

    def _check_version(self, db: str) -> None:
        """A database another colorbench wrote (no `meta` table: version 1) is refused in one line."""
        tables = set(sa.inspect(self.engine).get_table_names())
        if not tables:
            return
        version = 1
        if "meta" in tables:
            with self.engine.connect() as c:
                row = c.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
            version = int(row.value) if row is not None else 1
        if version != SCHEMA_VERSION:
            self.engine.dispose()
            raise UsageError(f"{db} is a study database of schema version {version}; this colorbench reads and "
                             f"writes version {SCHEMA_VERSION} (participant plans, practice, the Finish click): "
                             "report it with the colorbench that wrote it, and run this study with a new --db")

    def close(self) -> None:
        self.engine.dispose()

    # -- meta ------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
        return None if row is None else row.value

    def fix_design(self, design: dict[str, Any]) -> None:
        """Store the study's design the first time; UsageError if the database was planned for another one
        (the stored plans would name other models or images)."""
        stored = self._meta("design")
        if stored is None:
            with self.engine.begin() as c:
                c.execute(meta.insert().values(key="design", value=json.dumps(design, sort_keys=True)))
        elif json.loads(stored) != design:
            old = json.loads(stored)
            diff = ", ".join(f"{k}: {old.get(k)} here, {design.get(k)} now" for k in sorted(set(old) | set(design))
                             if old.get(k) != design.get(k))
            raise UsageError(f"this study database was planned for another design ({diff}): start the server "
                             "with the options it was started with, or use a new --db")

    def organiser_key(self) -> str:
        """The secret of the organiser's page, made once and kept (a restart prints the same URL)."""
        key = self._meta("organiser_key")
        if key is None:
            key = secrets.token_urlsafe(12)
            try:
                with self.engine.begin() as c:
                    c.execute(meta.insert().values(key="organiser_key", value=key))
            except IntegrityError:  # another server process made it first
                key = self._meta("organiser_key") or key
        return key

    # -- participants and their plans --------------------------------------------------------
    def enrol(self, pid: str, tasks_of: Any) -> bool:
        """Enrol `pid` at the next position with the plan `tasks_of(position)`; False if already enrolled."""
        with self.engine.begin() as c:
            if c.execute(sa.select(participants.c.id).where(participants.c.id == pid)).first() is not None:
                return False
            position = c.execute(sa.select(sa.func.coalesce(sa.func.max(participants.c.position) + 1, 0))
                                 ).scalar_one()
            c.execute(participants.insert().values(id=pid, position=position, created_at=time.time()))
            c.execute(plan.insert(), [{"participant_id": pid, "position": i, "model": m, "image_id": img}
                                      for i, (m, img) in enumerate(tasks_of(position))])
        return True

    def participant_ids(self) -> list[str]:
        with self.engine.connect() as c:
            return [r.id for r in c.execute(sa.select(participants.c.id).order_by(participants.c.position))]

    def position(self, pid: str) -> int | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(participants.c.position).where(participants.c.id == pid)).first()
        return None if row is None else int(row.position)

    def has_participant(self, pid: str) -> bool:
        return self.position(pid) is not None

    def plan_of(self, pid: str) -> list[tuple[str, str]]:
        with self.engine.connect() as c:
            rows = c.execute(sa.select(plan.c.model, plan.c.image_id).where(plan.c.participant_id == pid)
                             .order_by(plan.c.position)).all()
        return [(r.model, r.image_id) for r in rows]

    # -- sessions ----------------------------------------------------------------------------
    def open_session(self, pid: str, model: str, kind: str, dataset: str, image_id: str, size: int = 64,
                     checkpoint: str = "", position: int | None = None) -> str:
        """A new session (practice when `position` is None); Conflict if the participant has one open."""
        sid = new_id()
        try:
            with self.engine.begin() as c:
                other = self._open_of(c, pid)
                if other is not None:
                    raise Conflict(f"participant {pid} already has session {other} open: reload the page")
                if position is not None and c.execute(sa.select(sessions.c.id).where(
                        sessions.c.participant_id == pid, sessions.c.position == position,
                        sessions.c.status == "finished")).first() is not None:
                    raise Conflict(f"task {position + 1} of participant {pid} is already done")
                c.execute(sessions.insert().values(id=sid, participant_id=pid, practice=position is None,
                                                   position=position, model=model, hint_kind=kind,
                                                   dataset=dataset, image_id=image_id, size=size,
                                                   checkpoint=checkpoint, status="open", started_at=time.time()))
        except IntegrityError as exc:  # a racing tab got in between the check and the insert: the unique index
            raise Conflict(f"participant {pid} already has a session open: reload the page") from exc
        return sid

    def open_session_of(self, pid: str) -> str | None:
        with self.engine.connect() as c:
            return self._open_of(c, pid)

    @staticmethod
    def _open_of(c: sa.Connection, pid: str) -> str | None:
        row = c.execute(sa.select(sessions.c.id).where(sessions.c.participant_id == pid,
                                                       sessions.c.status == "open")).first()
        return None if row is None else row.id

    def session(self, sid: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(sessions).where(sessions.c.id == sid)).mappings().first()
        return dict(row) if row is not None else None

    def hints(self, sid: str) -> list[dict[str, Any]]:
        """The session's interactions in order (without their output images)."""
        cols = [interactions.c[k] for k in ("seq", "slot", "hint", "shown_at", "received_at", "responded_at",
                                            "tpi_ms")]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).where(interactions.c.session_id == sid)
                             .order_by(interactions.c.seq)).mappings().all()
        return [dict(r) | {"hint": json.loads(r["hint"])} for r in rows]

    def last_output(self, sid: str) -> bytes | None:
        """The PNG of the session's latest result (what the page showed last), None before the first hint."""
        with self.engine.connect() as c:
            row = c.execute(sa.select(interactions.c.output_png).where(interactions.c.session_id == sid)
                            .order_by(interactions.c.seq.desc()).limit(1)).first()
        return None if row is None else row.output_png

    def done_positions(self, pid: str) -> set[int]:
        """Plan positions of the participant's finished (non-practice) sessions."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(sessions.c.position).where(
                sessions.c.participant_id == pid, sessions.c.status == "finished",
                sessions.c.position.is_not(None))).all()
        return {int(r.position) for r in rows}

    def practice_count(self, pid: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(sessions).where(
                sessions.c.participant_id == pid, sessions.c.practice.is_(True))).scalar_one())

    def add_interaction(self, sid: str, seq: int, slot: int, hint: dict[str, Any], shown_at: float,
                        received_at: float, tpi_ms: float | None, output_png: bytes) -> float:
        """Store interaction `seq`; → its response time. Conflict if the session is closed or stopped, or `seq`
        is taken (two tabs sending the same step: the first one wins, the other changes nothing)."""
        now = time.time()
        try:
            with self.engine.begin() as c:
                if self._require_open(c, sid).stopped_at is not None:
                    raise Conflict(f"session {sid} is being rated: go back to the image to give more hints")
                c.execute(interactions.insert().values(
                    session_id=sid, seq=seq, slot=slot, hint=json.dumps(hint), shown_at=shown_at,
                    received_at=received_at, responded_at=now, tpi_ms=tpi_ms, output_png=output_png))
        except IntegrityError as exc:
            raise Conflict(f"interaction {seq} of session {sid} was already recorded (another tab?): "
                           "reload the page") from exc
        return now

    def stop(self, sid: str, at: float | None) -> None:
        """The Finish click (`at` a time) or "back to the image" (None)."""
        with self.engine.begin() as c:
            self._require_open(c, sid)
            c.execute(sessions.update().where(sessions.c.id == sid).values(stopped_at=at))

    def finish(self, sid: str, qs: int, cs: int, final_png: bytes | None) -> None:
        try:
            with self.engine.begin() as c:
                row = self._require_open(c, sid)
                if row.stopped_at is None:
                    raise Conflict(f"session {sid} has no Finish click yet: press Finish before scoring")
                c.execute(sessions.update().where(sessions.c.id == sid).values(
                    status="finished", finished_at=time.time(), qs=qs, cs=cs, final_png=final_png))
        except IntegrityError as exc:
            raise Conflict(f"the task of session {sid} is already done") from exc

    def abandon(self, sid: str) -> None:
        with self.engine.begin() as c:
            self._require_open(c, sid)
            c.execute(sessions.update().where(sessions.c.id == sid).values(status="abandoned",
                                                                           finished_at=time.time()))

    @staticmethod
    def _require_open(c: sa.Connection, sid: str) -> Any:
        row = c.execute(sa.select(sessions.c.status, sessions.c.stopped_at).where(sessions.c.id == sid)).first()
        if row is None:
            raise KeyError(sid)
        if row.status != "open":
            raise Conflict(f"session {sid} is {row.status}: start a new one")
        return row

    # -- ranking (Table 6) -----------------------------------------------------------------
    def rank_task_at(self, pid: str, seq: int, make: Any) -> dict[str, Any]:
        """The participant's ranking task `seq` (negative: practice), created by `make()` → (dataset, image_id,
        n_hints, shown) the first time it is asked for; a reload gets the same task back."""
        task = self._rank_task_where(rank_tasks.c.participant_id == pid, rank_tasks.c.seq == seq)
        if task is not None:
            return task
        dataset, image_id, n_hints, shown = make()
        try:
            with self.engine.begin() as c:
                c.execute(rank_tasks.insert().values(id=new_id(), participant_id=pid, seq=seq, practice=seq < 0,
                                                     dataset=dataset, image_id=image_id, n_hints=n_hints,
                                                     shown=json.dumps(shown), created_at=time.time()))
        except IntegrityError:  # another tab created it first: use that one
            pass
        task = self._rank_task_where(rank_tasks.c.participant_id == pid, rank_tasks.c.seq == seq)
        assert task is not None
        return task

    def next_practice_rank(self, pid: str) -> int:
        """The seq of the participant's unranked practice ranking task, or of a new one (-1, -2, ...)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(rank_tasks.c.seq, rank_tasks.c.ranking).where(
                rank_tasks.c.participant_id == pid, rank_tasks.c.practice.is_(True))).all()
        open_ = [r.seq for r in rows if r.ranking is None]
        return open_[0] if open_ else -(len(rows) + 1)

    def _rank_task_where(self, *where: Any) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(rank_tasks).where(*where)).mappings().first()
        return None if row is None else dict(row) | {"shown": json.loads(row["shown"])}

    def rank_task(self, tid: str) -> dict[str, Any] | None:
        return self._rank_task_where(rank_tasks.c.id == tid)

    def ranked_count(self, pid: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(rank_tasks).where(
                rank_tasks.c.participant_id == pid, rank_tasks.c.practice.is_(False),
                rank_tasks.c.ranking.is_not(None))).scalar_one())

    def save_ranking(self, tid: str, ranking: list[str]) -> None:
        with self.engine.begin() as c:
            # Only an unranked task is updated: a second submission (another tab) changes nothing.
            done = c.execute(rank_tasks.update().where(rank_tasks.c.id == tid, rank_tasks.c.ranking.is_(None))
                             .values(ranking=json.dumps(ranking), ranked_at=time.time())).rowcount
        if not done:
            raise Conflict(f"rank task {tid} was already ranked")

    # -- the report's and the organiser's view ------------------------------------------------
    def frames(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's rows (images left out) for `colorbench study report` and the organiser's page."""
        out = {}
        with self.engine.connect() as c:
            out["participants"] = [dict(r) for r in c.execute(sa.select(participants)).mappings()]
            out["plan"] = [dict(r) for r in c.execute(sa.select(plan)).mappings()]
            out["sessions"] = [dict(r) for r in c.execute(sa.select(
                *[col for col in sessions.c if col.name != "final_png"])).mappings()]
            out["interactions"] = [dict(r) for r in c.execute(sa.select(
                *[col for col in interactions.c if col.name != "output_png"])).mappings()]
            out["rank_tasks"] = [dict(r) for r in c.execute(sa.select(rank_tasks)).mappings()]
        return out
