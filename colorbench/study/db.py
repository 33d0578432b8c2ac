"""The study's database: participants, colorization sessions, their interactions, rankings (SQLAlchemy Core).

SQLite by default (`sqlite:///study.db`, or a plain file path); any SQLAlchemy URL for a shared server. Every
write is its own transaction, committed before the HTTP response: a killed server loses at most the request
it was answering. SQLite runs in WAL mode with synchronous=FULL, so a commit survives a crash of the process
or the machine. Times are UNIX seconds (float, server clock).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

META = sa.MetaData()

participants = sa.Table(
    "participants", META,
    sa.Column("id", sa.String(32), primary_key=True),  # random hex: anonymous, no personal data
    sa.Column("created_at", sa.Float, nullable=False),
)

sessions = sa.Table(
    "sessions", META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id"), nullable=False, index=True),
    sa.Column("model", sa.String(64), nullable=False),  # variant label (registry name or name@tag)
    sa.Column("hint_kind", sa.String(16), nullable=False),  # region | point
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("image_id", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # px the model ran at
    sa.Column("checkpoint", sa.String(256), nullable=False),  # sha256 of the checkpoint file (provenance)
    sa.Column("status", sa.String(16), nullable=False),  # open | finished | abandoned
    sa.Column("started_at", sa.Float, nullable=False),  # when the sketch was sent to the page
    sa.Column("finished_at", sa.Float),
    sa.Column("qs", sa.Integer),  # quality score 1-5
    sa.Column("cs", sa.Integer),  # convenience score 1-5
    sa.Column("final_png", sa.LargeBinary),  # the last result the participant saw
)
# At most one open session per participant, enforced by the database itself (two tabs racing each other) where
# it has partial indexes; elsewhere by the check in `open_session` alone.
sa.Index("one_open_session", sessions.c.participant_id, unique=True, sqlite_where=sessions.c.status == "open",
         postgresql_where=sessions.c.status == "open").ddl_if(dialect=("sqlite", "postgresql"))

interactions = sa.Table(
    "interactions", META,
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # 0, 1, ...: the primary key refuses a second writer
    sa.Column("slot", sa.Integer, nullable=False),  # hint slot: a new colour for the same slot replaces it
    sa.Column("hint", sa.Text, nullable=False),  # JSON: {"kind", "color": [r,g,b], "region" | "x","y","size"}
    sa.Column("shown_at", sa.Float, nullable=False),  # the previous result (or the sketch) reached the page
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("responded_at", sa.Float, nullable=False),
    sa.Column("client_ms", sa.Float),  # the page's own think time for this hint (TPI when within the server interval)
    sa.Column("output_png", sa.LargeBinary, nullable=False),
)

rank_tasks = sa.Table(
    "rank_tasks", META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id"), nullable=False, index=True),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("image_id", sa.String(128), nullable=False),
    sa.Column("n_hints", sa.Integer, nullable=False),
    sa.Column("shown", sa.Text, nullable=False),  # JSON list of model labels in display order
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ranking", sa.Text),  # JSON list of model labels, best first
    sa.Column("ranked_at", sa.Float),
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


def _two_tabs(pid: str, other: str | None) -> str:
    return (f"participant {pid} already has session {other} open (another tab?): finish it there, or abandon it "
            "to start here")


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    """All reads and writes of the study; one short transaction each."""

    def __init__(self, db: str) -> None:
        url = database_url(db)
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        META.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- participants and sessions ---------------------------------------------------------
    def new_participant(self) -> str:
        pid = new_id()
        with self.engine.begin() as c:
            c.execute(participants.insert().values(id=pid, created_at=time.time()))
        return pid

    def has_participant(self, pid: str) -> bool:
        with self.engine.connect() as c:
            return c.execute(sa.select(participants.c.id).where(participants.c.id == pid)).first() is not None

    def open_session(self, pid: str, model: str, kind: str, dataset: str, image_id: str, size: int = 64,
                     checkpoint: str = "") -> str:
        """A new session; Conflict if the participant has another one open (a second tab)."""
        sid = new_id()
        try:
            with self.engine.begin() as c:
                other = self._open_of(c, pid)
                if other is not None:
                    raise Conflict(_two_tabs(pid, other))
                c.execute(sessions.insert().values(id=sid, participant_id=pid, model=model, hint_kind=kind,
                                                   dataset=dataset, image_id=image_id, size=size,
                                                   checkpoint=checkpoint, status="open", started_at=time.time()))
        except IntegrityError as exc:  # a racing tab got in between the check and the insert: the unique index
            raise Conflict(_two_tabs(pid, self.open_session_of(pid))) from exc
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
        cols = [interactions.c[k] for k in ("seq", "slot", "hint", "shown_at", "received_at", "responded_at")]
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*cols).where(interactions.c.session_id == sid)
                             .order_by(interactions.c.seq)).mappings().all()
        return [dict(r) | {"hint": json.loads(r["hint"])} for r in rows]

    def add_interaction(self, sid: str, seq: int, slot: int, hint: dict[str, Any], shown_at: float,
                        received_at: float, client_ms: float | None, output_png: bytes) -> float:
        """Store interaction `seq`; → its response time. Conflict if the session is closed or `seq` is
        taken (two tabs sending the same step: the first one wins, the other changes nothing)."""
        now = time.time()
        try:
            with self.engine.begin() as c:
                self._require_open(c, sid)
                c.execute(interactions.insert().values(
                    session_id=sid, seq=seq, slot=slot, hint=json.dumps(hint), shown_at=shown_at,
                    received_at=received_at, responded_at=now, client_ms=client_ms, output_png=output_png))
        except IntegrityError as exc:
            raise Conflict(f"interaction {seq} of session {sid} was already recorded (another tab?): "
                           "reload the page") from exc
        return now

    def finish(self, sid: str, qs: int, cs: int, final_png: bytes | None) -> None:
        with self.engine.begin() as c:
            self._require_open(c, sid)
            c.execute(sessions.update().where(sessions.c.id == sid).values(
                status="finished", finished_at=time.time(), qs=qs, cs=cs, final_png=final_png))

    def abandon(self, sid: str) -> None:
        with self.engine.begin() as c:
            self._require_open(c, sid)
            c.execute(sessions.update().where(sessions.c.id == sid).values(status="abandoned",
                                                                           finished_at=time.time()))

    def done_tasks(self, pid: str) -> set[tuple[str, str]]:
        """(model, image_id) of the participant's finished sessions."""
        with self.engine.connect() as c:
            rows = c.execute(sa.select(sessions.c.model, sessions.c.image_id).where(
                sessions.c.participant_id == pid, sessions.c.status == "finished")).all()
        return {(r.model, r.image_id) for r in rows}

    @staticmethod
    def _require_open(c: sa.Connection, sid: str) -> None:
        row = c.execute(sa.select(sessions.c.status).where(sessions.c.id == sid)).first()
        if row is None:
            raise KeyError(sid)
        if row.status != "open":
            raise Conflict(f"session {sid} is {row.status}: start a new one")

    # -- ranking (Table 6) -----------------------------------------------------------------
    def new_rank_task(self, pid: str, dataset: str, image_id: str, n_hints: int, shown: list[str]) -> str:
        tid = new_id()
        with self.engine.begin() as c:
            c.execute(rank_tasks.insert().values(id=tid, participant_id=pid, dataset=dataset, image_id=image_id,
                                                 n_hints=n_hints, shown=json.dumps(shown), created_at=time.time()))
        return tid

    def rank_task(self, tid: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(rank_tasks).where(rank_tasks.c.id == tid)).mappings().first()
        return None if row is None else dict(row) | {"shown": json.loads(row["shown"])}

    def rank_count(self, pid: str) -> int:
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(rank_tasks).where(
                rank_tasks.c.participant_id == pid)).scalar_one())

    def save_ranking(self, tid: str, ranking: list[str]) -> None:
        with self.engine.begin() as c:
            # Only an unranked task is updated: a second submission (another tab) changes nothing.
            done = c.execute(rank_tasks.update().where(rank_tasks.c.id == tid, rank_tasks.c.ranking.is_(None))
                             .values(ranking=json.dumps(ranking), ranked_at=time.time())).rowcount
        if not done:
            raise Conflict(f"rank task {tid} was already ranked")

    # -- the report's view ------------------------------------------------------------------
    def frames(self) -> dict[str, list[dict[str, Any]]]:
        """Every table's rows (images left out) for `colorbench study report`."""
        out = {}
        with self.engine.connect() as c:
            out["sessions"] = [dict(r) for r in c.execute(sa.select(
                *[col for col in sessions.c if col.name != "final_png"])).mappings()]
            out["interactions"] = [dict(r) for r in c.execute(sa.select(
                *[col for col in interactions.c if col.name != "output_png"])).mappings()]
            out["rank_tasks"] = [dict(r) for r in c.execute(sa.select(rank_tasks)).mappings()]
        return out
