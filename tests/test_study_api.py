"""The study server's API through Starlette's test client: sessions, stored rows, Tables 2 and 6 (refusals of bad
input: test_study_refusals.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
import torch
from click.testing import CliRunner

from colorbench.cli import main
from colorbench.study.backend import StudyModels
from colorbench.study.db import Conflict, Store
from colorbench.study.report import mean_ci, table6, write_report
from colorbench.study.schema import interactions, sessions

from .study_client import finish, give_hint, post_ok, start_practice


def test_guided_session_is_stored_step_by_step_and_reported(study_env) -> None:
    client, store, pid, db = study_env
    assert client.app.state.study.plan(pid) == [("guidingpainter", "test-000000"), ("rtug", "test-000001")]
    s = post_ok(client, "/api/sessions", participant_id=pid)  # the plan's first task
    assert (s["page"], s["task"], s["tasks"], s["practice"]) == ("guided", 1, 2, False)
    assert s["region"] == s["regions"][0] and s["guide"].startswith("data:image/png")
    assert s["output"].startswith("data:image/png") and all(0 <= b[0] < b[2] <= 1 for b in s["boxes"])
    r1 = give_hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f", tpi_ms=1200)
    assert r1["next_region"] == s["regions"][1]
    with store.engine.connect() as c:  # stored before the response came back
        assert c.execute(sa.select(sa.func.count()).select_from(interactions)).scalar_one() == 1
    give_hint(client, pid, s, 1, 0, region=s["region"], color=[10, 200, 30])  # a new colour for the same region
    give_hint(client, pid, s, 2, 1, region=r1["next_region"], color="#1976d2")
    assert finish(client, pid, s, 4, 5) == {"ok": True, "interactions": 3}
    rows = store.hints(s["session_id"])
    assert [r["slot"] for r in rows] == [0, 0, 1] and rows[0]["tpi_ms"] == 1200.0
    assert rows[1]["hint"] == {"kind": "region", "region": s["region"], "color": [10, 200, 30]}
    assert all(r["shown_at"] <= r["received_at"] <= r["responded_at"] for r in rows)
    assert rows[1]["shown_at"] == rows[0]["responded_at"]  # the server's interval starts at the previous result
    row = store.session(s["session_id"])
    assert (row["status"], row["qs"], row["cs"], row["position"]) == ("finished", 4, 5, 0)
    assert row["final_png"][:4] == b"\x89PNG" and row["started_at"] <= row["stopped_at"] <= row["finished_at"]
    assert row["size"] == 64 and len(row["checkpoint"]) == 64  # the shipped checkpoint's sha256

    p = post_ok(client, "/api/sessions", participant_id=pid)
    assert (p["page"], p["image_id"], p["task"]) == ("point", "test-000001", 2) and "regions" not in p
    give_hint(client, pid, p, 0, 0, x=10, y=50, color="#ffe0bd")
    finish(client, pid, p, 2, 3)
    assert store.hints(p["session_id"])[0]["hint"] == {"kind": "point", "x": 10, "y": 50, "size": 3,
                                                       "color": [255, 224, 189]}
    assert post_ok(client, "/api/sessions", participant_id=pid) == {"done": True, "tasks": 2, "ranking": True}

    t = post_ok(client, "/api/rank/tasks", participant_id=pid)
    assert len(t["outputs"]) == 2 and 1 <= t["n_hints"] == len(t["markers"]) <= 7 and (t["task"], t["tasks"]) == (1, 2)
    assert post_ok(client, f"/api/rank/tasks/{t['task_id']}", participant_id=pid, ranking=[1, 0])["ok"]

    tables = write_report(str(db), db.parent / "report")
    # 1.2 s sent for the first hint, which the server's interval (milliseconds here) cannot hold: flagged, as are
    # the two hints sent without a page clock
    guided = next(line for line in tables["table2"].splitlines() if "| guidingpainter |" in line)
    assert guided.startswith("| toon | guidingpainter | 1 | 1 | 3 | n/a | 4.00 | 5.00 |")
    assert guided.endswith("| 3 | 0 | 0 |")
    assert "| toon | rtug | 1 | 1 | 1 |" in tables["table2"]
    assert {p.name for p in (db.parent / "report").iterdir()} == {"table2.md", "table2.csv", "table2.png",
                                                                   "table6.md", "table6.csv"}
    assert "| 1 | 100.0 | 100.0 |" in tables["table6"] and "| 1 | 0.0 | 100.0 |" in tables["table6"]


def test_a_reload_resumes_the_open_session_with_its_hints(study_env) -> None:
    client, store, pid, _ = study_env
    s = post_ok(client, "/api/sessions", participant_id=pid)
    r = give_hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f")
    again = post_ok(client, "/api/sessions", participant_id=pid)  # a reload (or a restarted server): same place
    assert again["session_id"] == s["session_id"] and (again["seq"], again["slot"], again["hinted"]) == (1, 0, True)
    assert again["region"] == s["region"] and again["next_region"] == r["next_region"] and again["resumed"]
    assert again["output"] == r["output"] and again["hint_map"] == r["hint_map"]
    post_ok(client, f"/api/sessions/{s['session_id']}/stop", participant_id=pid)
    assert post_ok(client, "/api/sessions", participant_id=pid)["rating"] is True  # the rating form comes back
    refused = client.post(f"/api/sessions/{s['session_id']}/hints", json={"participant_id": pid, "seq": 1, "slot": 1,
                                                                          "region": r["next_region"], "color": "#000000"})
    assert refused.status_code == 409 and "rated" in refused.json()["error"]
    post_ok(client, f"/api/sessions/{s['session_id']}/back", participant_id=pid)  # back to the image
    assert store.session(s["session_id"])["stopped_at"] is None
    give_hint(client, pid, s, 1, 1, region=r["next_region"], color="#000000")
    assert len(store.hints(s["session_id"])) == 2


def test_practice_is_flagged_kept_out_of_the_tables_and_the_plan(study_env) -> None:
    client, _, pid, db = study_env
    s = start_practice(client, pid, "guidingpainter", "test-000000")  # the plan's first task, as practice
    assert s["practice"] is True and s["task"] is None
    give_hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f", tpi_ms=50)
    finish(client, pid, s, 1, 1)
    first = post_ok(client, "/api/sessions", participant_id=pid)
    assert (first["model"], first["image_id"], first["task"]) == ("guidingpainter", "test-000000", 1)  # not skipped
    finish(client, pid, first, 5, 5)
    tables = write_report(str(db), db.parent / "report")
    assert "| toon | guidingpainter | 1 | 1 | 0 | n/a | 5.00 | 5.00 |" in tables["table2"]
    assert tables["table2"].splitlines()[2].endswith("| 0 | 0 | 1 |")  # flagged, abandoned, practice (not used)


def test_off_plan_and_repeated_tasks_are_refused(study_env) -> None:
    client, store, pid, _ = study_env
    r = client.post("/api/sessions", json={"participant_id": pid, "model": "rtug", "image_id": "test-000002"})
    assert r.status_code == 400 and "practice only" in r.json()["error"]
    s = post_ok(client, "/api/sessions", participant_id=pid)
    finish(client, pid, s, 3, 3)
    with pytest.raises(Conflict, match="already done"):
        store.open_session(pid, "guidingpainter", "region", "toon", "test-000000", position=0)
    with store.engine.begin() as c, pytest.raises(sa.exc.IntegrityError):  # the database's own guard
        c.execute(sessions.insert().values(id="x", participant_id=pid, practice=False, position=0, model="rtug",
                                           hint_kind="point", dataset="toon", image_id="test-000000", size=64,
                                           checkpoint="", status="finished", started_at=0.0))


def test_finish_click_and_scores_are_timed_apart() -> None:
    from colorbench.study.report import table2

    sessions_ = [{"id": "s", "participant_id": "p", "practice": False, "model": "guidingpainter", "dataset": "toon",
                  "status": "finished", "started_at": 0.0, "stopped_at": 8.0, "finished_at": 15.5, "qs": 4,
                  "cs": 4}]
    row = table2({"sessions": sessions_, "interactions": []}).iloc[0]
    assert row["time_per_image"] == 8.0 and row["rating_time"] == 7.5


def test_two_tabs_of_one_participant(study_env) -> None:
    client, store, pid, _ = study_env
    s = post_ok(client, "/api/sessions", participant_id=pid)
    assert post_ok(client, "/api/sessions", participant_id=pid)["session_id"] == s["session_id"]  # the same task
    give_hint(client, pid, s, 0, 0, region=s["region"], color="#d32f2f")
    stale = client.post(f"/api/sessions/{s['session_id']}/hints",  # the other tab still thinks it is at step 0
                        json={"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "#000000"})
    assert stale.status_code == 409 and "reload" in stale.json()["error"]
    with pytest.raises(Exception, match="already recorded"):  # the database refuses a racing duplicate too
        store.add_interaction(s["session_id"], 0, 0, {}, 0.0, 0.0, None, b"")
    assert [r["hint"]["color"] for r in store.hints(s["session_id"])] == [[211, 47, 47]]
    other = client.app.state.study.mint()
    assert client.post(f"/api/sessions/{s['session_id']}/abandon", json={"participant_id": other}).status_code == 403
    assert client.post(f"/api/sessions/{s['session_id']}/hints", json={
        "participant_id": other, "seq": 1, "slot": 1, "region": s["region"], "color": "#000000"}).status_code == 403


def test_rankings_have_a_planned_count_survive_a_reload_and_end(study_env) -> None:
    client, store, pid, _ = study_env
    p = post_ok(client, "/api/rank/tasks", participant_id=pid, practice=True)
    assert p["practice"] and p["task"] is None
    assert post_ok(client, "/api/rank/tasks", participant_id=pid, practice=True)["task_id"] == p["task_id"]
    post_ok(client, f"/api/rank/tasks/{p['task_id']}", participant_id=pid, ranking=[0, 1])
    assert post_ok(client, "/api/rank/tasks", participant_id=pid, practice=True)["task_id"] != p["task_id"]
    t = post_ok(client, "/api/rank/tasks", participant_id=pid)
    assert t["task"] == 1  # practice does not count towards the plan
    assert post_ok(client, "/api/rank/tasks", participant_id=pid)["task_id"] == t["task_id"]  # a reload: same task
    url = f"/api/rank/tasks/{t['task_id']}"
    assert client.post(url, json={"participant_id": pid, "ranking": [0, 0]}).status_code == 400
    assert client.post(url, json={"participant_id": pid, "ranking": [0, 1]}).status_code == 200
    assert client.post(url, json={"participant_id": pid, "ranking": [1, 0]}).status_code == 409
    u = post_ok(client, "/api/rank/tasks", participant_id=pid)
    assert u["task"] == 2 and u["task_id"] != t["task_id"]
    post_ok(client, f"/api/rank/tasks/{u['task_id']}", participant_id=pid, ranking=[1, 0])
    assert post_ok(client, "/api/rank/tasks", participant_id=pid) == {"done": True, "tasks": 2}
    assert [bool(r["practice"]) for r in store.frames()["rank_tasks"]].count(False) == 2
    assert table6(store.frames())["tasks"].tolist() == [2, 2]  # the practice ranking is left out
    for m in u["markers"]:  # drawn on the enlarged sketch: centre and size as fractions, a #rrggbb colour
        assert 0 < m["x"] < 1 and 0 < m["y"] < 1 and m["half"] > 0 and len(m["color"]) == 7


def test_the_organiser_enrols_and_sees_the_balance(study_env) -> None:
    client, _, pid, _ = study_env
    key = client.app.state.study.organiser_key
    assert client.post("/api/organiser/overview", json={"key": "guess"}).status_code == 403
    new = post_ok(client, "/api/organiser/participants", key=key)["participant_id"]
    assert new == "P02"
    o = post_ok(client, "/api/organiser/overview", key=key)
    assert [p["id"] for p in o["participants"]] == [pid, "P02"]
    assert o["first_model"] == {"guidingpainter": 1, "rtug": 1} and o["period"] == 6  # lcm(2 orders, 3 blocks)
    assert o["image_use"]["rtug"] == {"test-000000": 0, "test-000001": 1, "test-000002": 1}


def test_pages_and_static_files_are_served(study_env) -> None:
    client, _, _, _ = study_env
    for path in ("/", "/rank", "/organiser", "/static/study.js", "/static/common.js", "/static/rank.js",
                 "/static/organiser.js", "/static/study.css"):
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
    store.enrol("P01", lambda position: [("rtug", "test-000000")])
    store.open_session("P01", "rtug", "point", "toon", "test-000000", position=0)
    with store.engine.begin() as c, pytest.raises(sa.exc.IntegrityError):  # as a racing tab would find it
        c.execute(sessions.insert().values(id="x", participant_id="P01", practice=True, model="rtug",
                                           hint_kind="point", dataset="toon", image_id="test-000001", size=64,
                                           checkpoint="", status="open", started_at=0.0))
    store.close()


def test_an_old_study_database_is_refused_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as c:  # the first schema: no meta table, the page's clock as client_ms
        c.execute(sa.text("CREATE TABLE participants (id VARCHAR(32) PRIMARY KEY, created_at FLOAT NOT NULL)"))
        c.execute(sa.text("CREATE TABLE sessions (id VARCHAR(32) PRIMARY KEY, participant_id VARCHAR(32))"))
    engine.dispose()
    res = CliRunner().invoke(main, ["study", "report", str(old)])
    assert res.exit_code == 2 and "schema version 1" in res.output and "new --db" in res.output
    assert "Traceback" not in res.output


def test_serve_refuses_a_missing_folder_and_a_busy_port_before_creating_anything(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["study", "serve", "--db", str(tmp_path / "no" / "study.db"), "--port", "0"])
    assert res.exit_code == 2 and "does not exist" in res.output and "Traceback" not in res.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = CliRunner().invoke(main, ["study", "serve", "--db", str(tmp_path / "study.db"), "--port", str(port)])
    assert res.exit_code == 2 and "in use" in res.output and f"--port {port}" in res.output
    assert not (tmp_path / "study.db").exists()


def test_rank_hints_are_seeded_by_the_image_and_count_only_given_hints(study_backend: StudyModels) -> None:
    u, given = study_backend.rank_hints("test-000000", 7)
    again, _ = study_backend.rank_hints("test-000000", 7)
    assert torch.equal(u.color, again.color) and torch.equal(u.mask, again.mask)
    assert 1 <= given <= min(7, len(study_backend.region_order("guidingpainter", "test-000000")))
    assert u.mask.sum() > 0


def test_tpi_is_the_page_clock_and_flagged_outside_the_server_interval() -> None:
    """TPI is result painted → next hint by the page's clock; a value the server's own interval cannot contain
    (or none, or 0) is flagged and left out instead of pulling the mean."""
    from colorbench.study.report import table2

    sessions_ = [{"id": "s", "participant_id": "p", "practice": False, "model": "guidingpainter", "dataset": "toon",
                  "status": "finished", "started_at": 0.0, "stopped_at": 30.0, "finished_at": 35.0, "qs": 4,
                  "cs": 4}]
    inter = [{"session_id": "s", "seq": 0, "shown_at": 0.0, "received_at": 3.0, "tpi_ms": 2000.0},
             {"session_id": "s", "seq": 1, "shown_at": 4.0, "received_at": 8.0, "tpi_ms": None},
             {"session_id": "s", "seq": 2, "shown_at": 9.0, "received_at": 15.0, "tpi_ms": 9e6},
             {"session_id": "s", "seq": 3, "shown_at": 16.0, "received_at": 20.0, "tpi_ms": 0.0},
             {"session_id": "s", "seq": 4, "shown_at": 21.0, "received_at": 25.0, "tpi_ms": 3000.0}]
    row = table2({"sessions": sessions_, "interactions": inter}).iloc[0]
    assert row["tpi"] == pytest.approx(2.5) and row["tpi_flagged"] == 3
    assert row["interactions"] == 5 and row["time_per_image"] == 30.0 and row["rating_time"] == 5.0


def test_a_scattered_region_is_outlined_piece_by_piece(study_backend: StudyModels,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Two far-apart specks: two small outlines (each at least MIN_BOX), not one box over the whole image."""
    from colorbench.study.backend import MIN_BOX, StudyImage

    region = torch.zeros(1, 2, 64, 64)
    region[0, 1, 2, 2] = 1  # a 1-px speck top left
    region[0, 1, 60:62, 58:61] = 1  # and one bottom right
    region[0, 0, 10:30, 10:20] = 1
    img = study_backend.image("test-000000")
    monkeypatch.setitem(study_backend._images, "test-000000",
                        StudyImage(img.sketch, img.color, {"guidingpainter": region}))
    boxes = study_backend.region_boxes("guidingpainter", "test-000000", 1)
    assert len(boxes) == 2
    centres = [((b[0] + b[2]) / 2 * 64, (b[1] + b[3]) / 2 * 64) for b in boxes]  # px, the larger piece first
    assert centres == [pytest.approx((59.5, 61.0)), pytest.approx((2.5, 2.5))]
    for left, top, right, bottom in boxes:
        assert right - left >= MIN_BOX - 1e-9 and bottom - top >= MIN_BOX - 1e-9 and (right - left) < 0.2
    assert study_backend.region_boxes("guidingpainter", "test-000000", 0) == [[10 / 64, 10 / 64, 20 / 64, 30 / 64]]
