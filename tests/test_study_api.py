"""The study server's API through Starlette's test client: sessions, stored rows, Tables 2 and 6, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from click.testing import CliRunner
from starlette.testclient import TestClient

from colorbench.cli import main
from colorbench.study.app import create_app
from colorbench.study.backend import StudyModels
from colorbench.study.db import Store, interactions, sessions
from colorbench.study.report import mean_ci, write_report


@pytest.fixture(scope="module")
def backend() -> StudyModels:
    return StudyModels(["ours", "rtug"], "toon", limit=3)


@pytest.fixture()
def env(backend: StudyModels, tmp_path: Path):
    store = Store(str(tmp_path / "study.db"))
    client = TestClient(create_app(backend, store, images_per_model=1, max_body=4096))
    pid = client.post("/api/participants").json()["participant_id"]
    yield client, store, pid, tmp_path / "study.db"
    store.close()


def _start(client: TestClient, pid: str, model: str = "guidingpainter", image: str = "test-000000") -> dict:
    r = client.post("/api/sessions", json={"participant_id": pid, "model": model, "image_id": image})
    assert r.status_code == 200, r.text
    return r.json()


def _hint(client: TestClient, pid: str, s: dict, seq: int, slot: int, **kw) -> dict:
    r = client.post(f"/api/sessions/{s['session_id']}/hints", json={"participant_id": pid, "seq": seq,
                                                                       "slot": slot, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def test_guided_session_is_stored_step_by_step_and_reported(env) -> None:
    client, store, pid, db = env
    image = client.app.state.study.plan(pid)[0][1]  # the participant's own image: the plan is done after both
    s = _start(client, pid, image=image)
    assert s["page"] == "guided" and s["region"] == s["regions"][0] and s["guide"].startswith("data:image/png")
    assert s["output"].startswith("data:image/png") and 0 <= s["box"][0] < s["box"][2] <= 1
    r1 = _hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f")
    assert r1["next_region"] == s["regions"][1]
    with store.engine.connect() as c:  # stored before the response came back
        assert c.execute(sa.select(sa.func.count()).select_from(interactions)).scalar_one() == 1
    _hint(client, pid, s, 1, 0, region=s["region"], color=[10, 200, 30])  # a new colour for the same region
    _hint(client, pid, s, 2, 1, region=r1["next_region"], color="#1976d2")
    assert client.post(f"/api/sessions/{s['session_id']}/finish",
                       json={"participant_id": pid, "qs": 4, "cs": 5}).json() == {"ok": True, "interactions": 3}
    rows = store.hints(s["session_id"])
    assert [r["slot"] for r in rows] == [0, 0, 1]
    assert rows[1]["hint"] == {"kind": "region", "region": s["region"], "color": [10, 200, 30]}
    assert all(r["shown_at"] <= r["received_at"] <= r["responded_at"] for r in rows)
    assert rows[1]["shown_at"] == rows[0]["responded_at"]  # TPI counts from the previous result
    row = store.session(s["session_id"])
    assert (row["status"], row["qs"], row["cs"]) == ("finished", 4, 5) and row["final_png"][:4] == b"\x89PNG"
    assert row["size"] == 64 and len(row["checkpoint"]) == 64  # the shipped checkpoint's sha256

    p = _start(client, pid, "rtug", image)
    assert p["page"] == "point" and "regions" not in p
    _hint(client, pid, p, 0, 0, x=10, y=50, color="#ffe0bd")
    client.post(f"/api/sessions/{p['session_id']}/finish", json={"participant_id": pid, "qs": 2, "cs": 3})
    assert store.hints(p["session_id"])[0]["hint"] == {"kind": "point", "x": 10, "y": 50, "size": 3,
                                                       "color": [255, 224, 189]}
    assert client.post("/api/sessions", json={"participant_id": pid}).json()["done"] is True  # plan: 1 per model

    t = client.post("/api/rank/tasks", json={"participant_id": pid}).json()
    assert len(t["outputs"]) == 2 and 1 <= t["n_hints"] <= 7
    assert client.post(f"/api/rank/tasks/{t['task_id']}", json={"participant_id": pid, "ranking": [1, 0]}).json()["ok"]

    tables = write_report(str(db), db.parent / "report")
    assert "| toon | guidingpainter | 1 | 1 | 3 |" in tables["table2"] and "| 4.00 | 5.00 |" in tables["table2"]
    assert "| toon | rtug | 1 | 1 | 1 |" in tables["table2"]
    assert {p.name for p in (db.parent / "report").iterdir()} == {"table2.md", "table2.csv", "table2.png",
                                                                   "table6.md", "table6.csv"}
    assert "| 1 | 100.0 | 100.0 |" in tables["table6"] and "| 1 | 0.0 | 100.0 |" in tables["table6"]


def test_the_plan_gives_every_model_the_same_images(env) -> None:
    client, _, pid, _ = env
    s = client.post("/api/sessions", json={"participant_id": pid}).json()
    client.post(f"/api/sessions/{s['session_id']}/finish", json={"participant_id": pid, "qs": 3, "cs": 3})
    t = client.post("/api/sessions", json={"participant_id": pid}).json()
    assert {s["model"], t["model"]} == {"guidingpainter", "rtug"} and s["image_id"] == t["image_id"]


@pytest.mark.parametrize("body, status, words", [
    ({"model": "nope", "image_id": "test-000000"}, 404, "unknown model 'nope'"),
    ({"model": "rtug", "image_id": "test-999999"}, 404, "unknown image 'test-999999'"),
    ({"model": "rtug", "image_id": "test-000000", "participant_id": "x" * 32}, 404, "unknown participant"),
])
def test_unknown_ids_are_404_with_a_message(env, body, status, words) -> None:
    client, store, pid, _ = env
    r = client.post("/api/sessions", json={"participant_id": pid} | body)
    assert r.status_code == status and words in r.json()["error"] and r.json()["status"] == status
    with store.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 0


def test_malformed_and_oversized_bodies_change_nothing(env) -> None:
    client, store, pid, _ = env
    s = _start(client, pid)
    url = f"/api/sessions/{s['session_id']}/hints"
    bad = [
        (client.post(url, content=b'{"seq": 0,', headers={"content-type": "application/json"}), 400, "malformed JSON"),
        (client.post(url, content=b"[1, 2]"), 400, "JSON object"),
        (client.post(url, content=json.dumps({"participant_id": pid, "pad": "x" * 5000})), 413, "over the limit"),
        (client.post(url, json={"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "red"}),
         400, "'color'"),
        (client.post(url, json={"participant_id": pid, "seq": 0, "slot": 0, "region": 29, "color": "#000000"}),
         400, "'region'"),
        (client.post(url, json={"participant_id": pid, "seq": 0, "slot": 5, "region": s["region"],
                                "color": "#000000"}), 400, "'slot'"),
        (client.post(url, json={"participant_id": pid, "seq": "0", "slot": 0}), 400, "'seq'"),
        (client.post("/api/sessions/nope/hints", json={"participant_id": pid, "seq": 0}), 404, "unknown session"),
        (client.post(f"/api/sessions/{s['session_id']}/finish", json={"participant_id": pid, "qs": 9, "cs": 1}),
         400, "'qs'"),
        (client.get("/api/nothing"), 404, "no such page"),
        (client.get("/api/sessions"), 405, "not allowed"),
    ]
    for r, status, words in bad:
        assert r.status_code == status and words in r.json()["error"], (r.status_code, r.text)
    assert store.hints(s["session_id"]) == [] and store.session(s["session_id"])["status"] == "open"


def test_a_chunked_body_cannot_get_past_the_limit(env) -> None:
    client = env[0]
    r = client.post("/api/sessions", content=iter([b'{"participant_id": "', b"x" * 5000, b'"}']))
    assert r.status_code == 413


def test_two_tabs_of_one_participant(env) -> None:
    client, store, pid, _ = env
    s = _start(client, pid)
    second = client.post("/api/sessions", json={"participant_id": pid, "model": "rtug", "image_id": "test-000001"})
    assert second.status_code == 409 and second.json()["open_session"] == s["session_id"]
    _hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f")
    stale = client.post(f"/api/sessions/{s['session_id']}/hints",  # the other tab still thinks it is at step 0
                        json={"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "#000000"})
    assert stale.status_code == 409 and "reload" in stale.json()["error"]
    with pytest.raises(Exception, match="already recorded"):  # the database refuses a racing duplicate too
        store.add_interaction(s["session_id"], 0, 0, {}, 0.0, 0.0, None, b"")
    assert [r["hint"]["color"] for r in store.hints(s["session_id"])] == [[211, 47, 47]]
    other = client.post("/api/participants").json()["participant_id"]
    assert client.post(f"/api/sessions/{s['session_id']}/abandon", json={"participant_id": other}).status_code == 403
    assert client.post(f"/api/sessions/{s['session_id']}/abandon", json={"participant_id": pid}).json()["ok"]
    assert _start(client, pid, "rtug")["page"] == "point"
    done = client.post(f"/api/sessions/{s['session_id']}/hints",
                       json={"participant_id": pid, "seq": 1, "slot": 1, "region": s["region"], "color": "#000000"})
    assert done.status_code == 409 and "abandoned" in done.json()["error"]


def test_a_ranking_is_taken_once(env) -> None:
    client, _, pid, _ = env
    t = client.post("/api/rank/tasks", json={"participant_id": pid}).json()
    url = f"/api/rank/tasks/{t['task_id']}"
    assert client.post(url, json={"participant_id": pid, "ranking": [0, 0]}).status_code == 400
    assert client.post(url, json={"participant_id": pid, "ranking": [0, 1]}).status_code == 200
    assert client.post(url, json={"participant_id": pid, "ranking": [1, 0]}).status_code == 409


def test_pages_and_static_files_are_served(env) -> None:
    client, _, _, _ = env
    for path in ("/", "/rank", "/static/study.js", "/static/common.js", "/static/rank.js", "/static/study.css"):
        r = client.get(path)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text, path  # offline


def test_mean_ci_is_the_t_interval() -> None:
    mean, half = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and half == pytest.approx(2.4842, abs=1e-3)  # t(0.975, 2) · 1 / √3
    assert mean_ci([5.0])[0] == 5.0


def test_report_cli_without_a_database_says_what_to_run(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["study", "report", str(tmp_path / "none.db")])
    assert res.exit_code == 2 and "colorbench study serve" in res.output
    assert not (tmp_path / "none.db").exists()


def test_the_database_itself_refuses_a_second_open_session(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    pid = store.new_participant()
    store.open_session(pid, "rtug", "point", "toon", "test-000000")
    with store.engine.begin() as c, pytest.raises(sa.exc.IntegrityError):  # as a racing tab would find it
        c.execute(sessions.insert().values(id="x", participant_id=pid, model="rtug", hint_kind="point",
                                           dataset="toon", image_id="test-000001", status="open", started_at=0.0))
    store.close()


def test_a_crash_in_a_forward_is_a_json_500_and_stores_nothing(env, monkeypatch: pytest.MonkeyPatch) -> None:
    client, store, pid, _ = env
    s = _start(client, pid)
    monkeypatch.setattr(client.app.state.study.backend, "colorize", lambda *a: 1 / 0)
    quiet = TestClient(client.app, raise_server_exceptions=False)
    r = quiet.post(f"/api/sessions/{s['session_id']}/hints",
                   json={"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "#000000"})
    assert r.status_code == 500 and "ZeroDivisionError" in r.json()["error"]
    assert store.hints(s["session_id"]) == []


def test_rank_hints_are_seeded_by_the_image_and_count_only_given_hints(backend: StudyModels) -> None:
    u, given = backend.rank_hints("test-000000", 7)
    again, _ = backend.rank_hints("test-000000", 7)
    assert torch.equal(u.color, again.color) and torch.equal(u.mask, again.mask)
    assert 1 <= given <= min(7, len(backend.region_order("guidingpainter", "test-000000")))
    assert u.mask.sum() > 0


def test_tpi_uses_the_page_clock_within_the_server_interval() -> None:
    """TPI is the participant's time: the page's clock excludes network and colorization time, but a value
    the server's own interval cannot contain (or none) falls back to that interval."""
    from colorbench.study.report import table2

    sessions_ = [{"id": "s", "participant_id": "p", "model": "guidingpainter", "dataset": "toon",
                  "status": "finished", "started_at": 0.0, "finished_at": 30.0, "qs": 4, "cs": 4}]
    inter = [{"session_id": "s", "seq": 0, "shown_at": 0.0, "received_at": 3.0, "client_ms": 2000.0},
             {"session_id": "s", "seq": 1, "shown_at": 4.0, "received_at": 8.0, "client_ms": None},
             {"session_id": "s", "seq": 2, "shown_at": 9.0, "received_at": 15.0, "client_ms": 9e6},
             {"session_id": "s", "seq": 3, "shown_at": 16.0, "received_at": 20.0, "client_ms": -5.0}]
    row = table2({"sessions": sessions_, "interactions": inter}).iloc[0]
    assert row["tpi"] == pytest.approx((2.0 + 4.0 + 6.0 + 4.0) / 4)
    assert row["interactions"] == 4 and row["time_per_image"] == 30.0
