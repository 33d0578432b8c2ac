"""The study's HTTP server (Starlette): the colorization page, the ranking page, the organiser's page, their JSON API.

Every request that changes something is stored (colorbench.study.db) before its response is sent. Errors are
JSON `{"error": message, "status": code}`: 400 malformed JSON or fields, 403 a session of another participant,
a wrong organiser key or a post from another site, 404 unknown participant/session/model/image, 409 another tab
or a stale page, 413 a body over `max_body`, 415 a body that is not declared JSON. Requests naming another host
than the study's (DNS rebinding) get 400 from Starlette's TrustedHostMiddleware.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from colorbench.study.backend import StudyModels
from colorbench.study.db import Conflict, Store
from colorbench.study.handlers import StudyApp
from colorbench.study.payloads import MAX_BODY, ApiError, error_response, read_json, shorten

STATIC = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def host_name(name: str) -> str:
    """A name as it appears in a Host header and a URL: an IPv6 literal in brackets (`fe80::1` → `[fe80::1]`),
    lower case; other names as given. Starlette compares the Host header's bracketed form."""
    name = name.strip().lower()
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def create_app(backend: StudyModels, store: Store, images_per_model: int = 3, max_body: int = MAX_BODY,
               allowed_hosts: list[str] | None = None, rank_tasks: int = 10) -> Starlette:
    """The ASGI app: pages at / (study), /rank and /organiser, static files at /static, the API under /api.
    `allowed_hosts`: the names the server may be reached by (Host header); default the loopback names."""
    study = StudyApp(backend, store, images_per_model, max_body, rank_tasks)

    def api(fn: Callable[..., dict[str, Any]], *params: str, body: bool = True,
            timed: bool = False) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> JSONResponse:
            received = time.time()  # before the body is read: the participant's click, not the upload
            try:
                origin = request.headers.get("origin")
                if body and origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                    raise ApiError(403, f"a post from another site ({shorten(origin)}) is refused")
                args: list[Any] = [request.path_params[p] for p in params]
                if body:
                    args.append(await read_json(request, study.max_body))
                if timed:
                    args.append(received)
                return JSONResponse(await run_in_threadpool(fn, *args))
            except ApiError as exc:
                return error_response(exc.status, str(exc), **exc.extra)
            except Conflict as exc:
                return error_response(409, str(exc))
        return endpoint

    def page(name: str) -> Callable[[Request], Awaitable[Any]]:
        async def endpoint(request: Request) -> FileResponse:
            return FileResponse(STATIC / name, headers={"Cache-Control": "no-store"})
        return endpoint

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error_response(404, f"no such page or endpoint: {request.method} {request.url.path}")

    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return error_response(405, f"{request.method} is not allowed on {request.url.path}")

    async def internal(request: Request, exc: Exception) -> JSONResponse:  # a bug: JSON too, the traceback is logged
        return error_response(500, f"internal error ({type(exc).__name__}); nothing of this request was stored")

    post = ["POST"]
    routes = [
        Route("/", page("study.html")),
        Route("/rank", page("rank.html")),
        Route("/organiser", page("organiser.html")),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/api/config", api(study.config, body=False)),
        Route("/api/sessions", api(study.start), methods=post),
        Route("/api/sessions/{sid}/hints", api(study.hint, "sid", timed=True), methods=post),
        Route("/api/sessions/{sid}/stop", api(study.stop, "sid", timed=True), methods=post),
        Route("/api/sessions/{sid}/back", api(study.back, "sid"), methods=post),
        Route("/api/sessions/{sid}/finish", api(study.finish, "sid"), methods=post),
        Route("/api/sessions/{sid}/abandon", api(study.abandon, "sid"), methods=post),
        Route("/api/rank/tasks", api(study.rank_task), methods=post),
        Route("/api/rank/tasks/{tid}", api(study.rank, "tid"), methods=post),
        Route("/api/organiser/overview", api(study.overview), methods=post),
        Route("/api/organiser/participants", api(study.new_participant), methods=post),
    ]
    hosts = list(dict.fromkeys(LOCAL_HOSTS + [host_name(h) for h in allowed_hosts or []]))
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)],
                    exception_handlers={404: not_found, 405: not_allowed, Exception: internal})
    app.state.study = study
    return app
