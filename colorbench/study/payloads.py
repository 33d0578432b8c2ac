"""The JSON the study's pages send and get: reading a request body (`read_json`), checking its fields (each
refusal an `ApiError` with its HTTP status and a message for the participant), PNGs as data URLs."""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from colorbench.study.backend import png

MAX_BODY = 16 * 1024  # bytes: a hint is ~100 bytes of JSON; nothing the page sends comes near this
MAX_TPI_MS = 24 * 3600 * 1000.0  # a page clock value beyond a day is not a think time
COLOR = re.compile(r"#[0-9a-fA-F]{6}")


class ApiError(Exception):
    """An error the client caused; its message is shown to the participant."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """The JSON body every refusal gets: `{"error": message, "status": status, ...extra}`."""
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


def data_url(image: Any) -> str:
    """PNG bytes, or an image `png` encodes, as a `data:image/png;base64,...` URL for an <img> of the page."""
    return "data:image/png;base64," + base64.b64encode(image if isinstance(image, bytes) else png(image)).decode()


async def read_json(request: Request, max_body: int) -> dict[str, Any]:
    """The request's JSON object; ApiError 415 unless declared application/json (a cross-site form cannot post
    it without a CORS preflight, which this server never grants), 413 past `max_body` bytes (checked while
    reading, so a chunked or lying Content-Length cannot make the server buffer more), 400 for anything but a
    JSON object (malformed, nested too deeply, a number of too many digits)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ApiError(415, f"the body must be sent as Content-Type: application/json, got {kind or 'none'!r}")
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
    except RecursionError as exc:
        raise ApiError(400, "malformed JSON: nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer past Python's digit limit
        raise ApiError(400, f"malformed JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "the body must be a JSON object")
    return value


def int_field(body: dict[str, Any], key: str, lo: int, hi: int) -> int:
    """body[key], an integer in lo..hi (a JSON true/false is not one); ApiError 400 otherwise."""
    v = body.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ApiError(400, f"{key!r} must be an integer in {lo}..{hi}, got {shorten(v)}")
    return v


def bool_field(body: dict[str, Any], key: str) -> bool:
    """body[key] as true/false (absent: false); ApiError 400 for anything else."""
    v = body.get(key, False)
    if not isinstance(v, bool):
        raise ApiError(400, f"{key!r} must be true or false, got {shorten(v)}")
    return v


def shorten(v: Any) -> str:
    """A client's value for an error message, cut short (a 5000-digit number stays readable)."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def color_field(body: dict[str, Any]) -> list[int]:
    """'#rrggbb' or [r, g, b] with integers 0..255 → [r, g, b]."""
    v = body.get("color")
    if isinstance(v, str) and COLOR.fullmatch(v):
        return [int(v[i : i + 2], 16) for i in (1, 3, 5)]
    if isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255
                                                   for c in v):
        return list(v)
    raise ApiError(400, f"'color' must be '#rrggbb' or [r, g, b] of integers in 0..255, got {shorten(v)}")


def tpi_field(body: dict[str, Any]) -> float | None:
    """The page's TPI for this hint in ms (a finite number in 0..MAX_TPI_MS), or None when not sent."""
    v = body.get("tpi_ms")
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= MAX_TPI_MS:
        raise ApiError(400, f"'tpi_ms' must be a number of milliseconds in 0..{MAX_TPI_MS:.0f}, got {shorten(v)}")
    return float(v)


def name_field(body: dict[str, Any], key: str, allowed: list[str]) -> str:
    """body[key], one of `allowed` (a model or image of this study); ApiError 404 naming them otherwise."""
    v = body.get(key)
    if not isinstance(v, str) or v not in allowed:
        raise ApiError(404, f"unknown {key.replace('_id', '')} {shorten(v)}; this study has {', '.join(allowed)}")
    return v
