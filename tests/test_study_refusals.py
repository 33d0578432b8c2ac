"""The study API refuses what it must not store: unknown ids, malformed or oversized bodies, other sites'
requests, and a forward that crashes; each refusal is a JSON error with a message and changes nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from colorbench.study.schema import sessions

from .study_client import post_ok, start_practice


@pytest.mark.parametrize("body, status, words", [
    ({"model": "nope", "image_id": "test-000000"}, 404, "unknown model 'nope'"),
    ({"model": "rtug", "image_id": "test-999999"}, 404, "unknown image 'test-999999'"),
    ({"model": "rtug", "image_id": "test-000000", "participant_id": "x" * 32}, 404, "unknown participant"),
])
def test_unknown_ids_are_404_with_a_message(study_env, body, status, words) -> None:
    client, store, pid, _ = study_env
    r = client.post("/api/sessions", json={"participant_id": pid, "practice": True} | body)
    assert r.status_code == status and words in r.json()["error"] and r.json()["status"] == status
    with store.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 0


def test_malformed_and_oversized_bodies_change_nothing(study_env) -> None:
    client, store, pid, _ = study_env
    s = start_practice(client, pid)
    url = f"/api/sessions/{s['session_id']}/hints"
    ok = {"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "#000000"}

    def raw(text: str, to: str = url) -> object:
        return client.post(to, content=text.encode(), headers={"content-type": "application/json"})

    t = post_ok(client, "/api/rank/tasks", participant_id=pid)
    bad = [
        (raw('{"seq": 0,'), 400, "malformed JSON"),
        (raw("[1, 2]"), 400, "JSON object"),
        (raw("[" * 100_000 + "]" * 100_000), 413, "over the limit"),  # past the body limit first
        (raw("[" * 2000 + "]" * 2000), 400, "nested too deeply"),
        (raw(f'{{"participant_id": "{pid}", "seq": {"9" * 5000}, "slot": 0}}'), 400, "malformed JSON"),
        (client.post(url, content=json.dumps({"participant_id": pid, "pad": "x" * 10_000}),
                     headers={"content-type": "application/json"}), 413, "over the limit"),
        (client.post(url, json=ok | {"color": "red"}), 400, "'color'"),
        (client.post(url, json=ok | {"color": "#-f-f-f"}), 400, "'color'"),
        (client.post(url, json=ok | {"color": [255, 0, 256]}), 400, "'color'"),
        (client.post(url, json=ok | {"color": [1.0, 2, 3]}), 400, "'color'"),
        (client.post(url, json=ok | {"region": 29}), 400, "'region'"),
        (client.post(url, json=ok | {"region": float(s["region"])}), 400, "'region'"),
        (client.post(url, json=ok | {"region": True}), 400, "'region'"),
        (client.post(url, json=ok | {"slot": 5}), 400, "'slot'"),
        (client.post(url, json=ok | {"seq": "0"}), 400, "'seq'"),
        (client.post(url, json=ok | {"tpi_ms": -1}), 400, "'tpi_ms'"),
        (client.post(url, json=ok | {"tpi_ms": "fast"}), 400, "'tpi_ms'"),
        (raw(json.dumps(ok)[:-1] + ', "tpi_ms": NaN}'), 400, "'tpi_ms'"),
        (raw(json.dumps(ok)[:-1] + ', "tpi_ms": 1e999}'), 400, "'tpi_ms'"),
        (client.post(url, json=ok | {"participant_id": "'; DROP TABLE sessions; --"}), 400, "'participant_id'"),
        (client.post(url, json=ok | {"participant_id": "<b>P01</b>"}), 400, "'participant_id'"),
        (client.post("/api/sessions", json={"participant_id": pid, "practice": "yes"}), 400, "'practice'"),
        (client.post(f"/api/rank/tasks/{t['task_id']}", json={"participant_id": pid, "ranking": [0.0, 1.0]}),
         400, "'ranking'"),
        (client.post(f"/api/rank/tasks/{t['task_id']}", json={"participant_id": pid, "ranking": [True, 0]}),
         400, "'ranking'"),
        (client.post("/api/sessions/nope/hints", json={"participant_id": pid, "seq": 0}), 404, "unknown session"),
        (client.post(f"/api/sessions/{s['session_id']}/finish", json={"participant_id": pid, "qs": 9, "cs": 1}),
         400, "'qs'"),
        (client.post(f"/api/sessions/{s['session_id']}/finish", json={"participant_id": pid, "qs": 3, "cs": 3}),
         409, "press Finish"),
        (client.get("/api/nothing"), 404, "no such page"),
        (client.get("/api/sessions"), 405, "not allowed"),
    ]
    for r, status, words in bad:
        assert r.status_code == status and words in r.json()["error"], (r.status_code, r.text[:300])
    assert store.hints(s["session_id"]) == [] and store.session(s["session_id"])["status"] == "open"
    assert store.rank_task(t["task_id"])["ranking"] is None


def test_only_json_from_this_site_by_its_own_name_is_taken(study_env) -> None:
    client, store, pid, _ = study_env
    body = json.dumps({"participant_id": pid})
    form = client.post("/api/sessions", content=body, headers={"content-type": "text/plain"})  # a form's CSRF
    assert form.status_code == 415 and "application/json" in form.json()["error"]
    other = client.post("/api/sessions", json={"participant_id": pid}, headers={"origin": "http://evil.example"})
    assert other.status_code == 403 and "another site" in other.json()["error"]
    rebound = client.post("/api/sessions", json={"participant_id": pid}, headers={"host": "evil.example:8000"})
    assert rebound.status_code == 400  # DNS rebinding: a name the study was not started with
    assert client.post("/api/sessions", json={"participant_id": pid},
                       headers={"origin": "http://127.0.0.1:8000"}).status_code == 200
    with store.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(sessions)).scalar_one() == 1


def test_a_chunked_body_cannot_get_past_the_limit(study_env) -> None:
    client = study_env[0]
    r = client.post("/api/sessions", content=iter([b'{"participant_id": "', b"x" * 10_000, b'"}']),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_a_crash_in_a_forward_is_a_json_500_and_stores_nothing(study_env, monkeypatch: pytest.MonkeyPatch) -> None:
    client, store, pid, _ = study_env
    s = start_practice(client, pid)
    monkeypatch.setattr(client.app.state.study.backend, "colorize", lambda *a: 1 / 0)
    quiet = TestClient(client.app, raise_server_exceptions=False, base_url="http://127.0.0.1:8000")
    r = quiet.post(f"/api/sessions/{s['session_id']}/hints",
                   json={"participant_id": pid, "seq": 0, "slot": 0, "region": s["region"], "color": "#000000"})
    assert r.status_code == 500 and "ZeroDivisionError" in r.json()["error"]
    assert store.hints(s["session_id"]) == []


def test_ipv6_and_upper_case_names_are_allowed_hosts(study_backend, tmp_path) -> None:
    """A study served on an IPv6 address (`--host fe80::1`) is reached as http://[fe80::1]:PORT; the Host check
    must take that name (and a machine name in any case), and still refuse others."""
    from colorbench.study.app import create_app
    from colorbench.study.db import Store

    store = Store(str(tmp_path / "study.db"))
    try:
        app = create_app(study_backend, store, images_per_model=1, allowed_hosts=["fe80::1", "Lab-PC"])
        for host, status in [("[fe80::1]:8000", 200), ("[::1]:8000", 200), ("lab-pc:8000", 200),
                             ("LAB-PC", 200), ("[fe80::2]:8000", 400), ("evil.example", 400)]:
            client = TestClient(app, base_url=f"http://{host}")
            assert client.get("/").status_code == status, host
    finally:
        store.close()
