"""Calls to the study API the study tests share: each asserts the server answered 200 and returns its JSON."""

from __future__ import annotations

from starlette.testclient import TestClient


def start_practice(client: TestClient, pid: str, model: str = "guidingpainter", image: str = "test-000000") -> dict:
    """A practice session on this model and image (the plan's tasks come in the plan's order)."""
    r = client.post("/api/sessions", json={"participant_id": pid, "model": model, "image_id": image,
                                           "practice": True})
    assert r.status_code == 200, r.text
    return r.json()


def give_hint(client: TestClient, pid: str, s: dict, seq: int, slot: int, **kw) -> dict:
    r = client.post(f"/api/sessions/{s['session_id']}/hints", json={"participant_id": pid, "seq": seq,
                                                                       "slot": slot, **kw})
    assert r.status_code == 200, r.text
    return r.json()


def post_ok(client: TestClient, url: str, **body) -> dict:
    r = client.post(url, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def finish(client: TestClient, pid: str, s: dict, qs: int, cs: int) -> dict:
    post_ok(client, f"/api/sessions/{s['session_id']}/stop", participant_id=pid)  # the Finish click
    return post_ok(client, f"/api/sessions/{s['session_id']}/finish", participant_id=pid, qs=qs, cs=cs)
