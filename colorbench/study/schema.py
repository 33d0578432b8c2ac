"""The study database's schema (SQLAlchemy Core tables): participants and their plans, sessions, interactions,
rankings. `Store` (colorbench.study.db) refuses a database of another `SCHEMA_VERSION`."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA_VERSION = 2
META = sa.MetaData()

meta = sa.Table(
    "meta", META,
    sa.Column("key", sa.String(64), primary_key=True),  # schema_version | design | organiser_key
    sa.Column("value", sa.Text, nullable=False),
)

participants = sa.Table(
    "participants", META,
    sa.Column("id", sa.String(32), primary_key=True),  # the organiser's id (P01, ...): no personal data
    sa.Column("position", sa.Integer, nullable=False, unique=True),  # enrolment order: the row of the plan
    sa.Column("created_at", sa.Float, nullable=False),
)

plan = sa.Table(
    "plan", META,  # each participant's tasks, fixed at enrolment (colorbench.study.design)
    sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),  # 0, 1, ...: the order the tasks are done in
    sa.Column("model", sa.String(64), nullable=False),
    sa.Column("image_id", sa.String(128), nullable=False),
)

sessions = sa.Table(
    "sessions", META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id"), nullable=False, index=True),
    sa.Column("practice", sa.Boolean, nullable=False),  # practice is never in the tables
    sa.Column("position", sa.Integer),  # the plan's task (None for practice)
    sa.Column("model", sa.String(64), nullable=False),  # variant label (registry name or name@tag)
    sa.Column("hint_kind", sa.String(16), nullable=False),  # region | point
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("image_id", sa.String(128), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),  # px the model ran at
    sa.Column("checkpoint", sa.String(256), nullable=False),  # sha256 of the checkpoint file (provenance)
    sa.Column("status", sa.String(16), nullable=False),  # open | finished | abandoned
    sa.Column("started_at", sa.Float, nullable=False),  # when the sketch was sent to the page
    sa.Column("stopped_at", sa.Float),  # the Finish click (None again after "back to the image")
    sa.Column("finished_at", sa.Float),  # the scores were submitted
    sa.Column("qs", sa.Integer),  # quality score 1-5
    sa.Column("cs", sa.Integer),  # convenience score 1-5
    sa.Column("final_png", sa.LargeBinary),  # the last result the participant saw
)
# At most one open session per participant, and a planned task finished at most once, enforced by the database
# itself (two tabs racing each other) where it has partial indexes; elsewhere by the checks in Store alone.
sa.Index("one_open_session", sessions.c.participant_id, unique=True, sqlite_where=sessions.c.status == "open",
         postgresql_where=sessions.c.status == "open").ddl_if(dialect=("sqlite", "postgresql"))
sa.Index("task_once", sessions.c.participant_id, sessions.c.position, unique=True,
         sqlite_where=sessions.c.status == "finished",
         postgresql_where=sessions.c.status == "finished").ddl_if(dialect=("sqlite", "postgresql"))

interactions = sa.Table(
    "interactions", META,
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),  # 0, 1, ...: the primary key refuses a second writer
    sa.Column("slot", sa.Integer, nullable=False),  # hint slot: a new colour for the same slot replaces it
    sa.Column("hint", sa.Text, nullable=False),  # JSON: {"kind", "color": [r,g,b], "region" | "x","y","size"}
    sa.Column("shown_at", sa.Float, nullable=False),  # the previous result (or the sketch) was sent to the page
    sa.Column("received_at", sa.Float, nullable=False),  # this hint arrived
    sa.Column("responded_at", sa.Float, nullable=False),  # its result was sent
    sa.Column("tpi_ms", sa.Float),  # the page's clock: previous result painted → this hint given (TPI)
    sa.Column("output_png", sa.LargeBinary, nullable=False),
)

rank_tasks = sa.Table(
    "rank_tasks", META,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("participant_id", sa.String(32), sa.ForeignKey("participants.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),  # the participant's k-th ranking task, 0-based; practice -1, -2, ...
    sa.Column("practice", sa.Boolean, nullable=False),  # practice is never in Table 6
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("image_id", sa.String(128), nullable=False),
    sa.Column("n_hints", sa.Integer, nullable=False),
    sa.Column("shown", sa.Text, nullable=False),  # JSON list of model labels in display order
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ranking", sa.Text),  # JSON list of model labels, best first
    sa.Column("ranked_at", sa.Float),
    sa.UniqueConstraint("participant_id", "seq"),  # a reload gets the same task back, never a new one
)
