"""One error shape for the whole API — the seed's `{"success": false, "error": "..."}` — and the
mapping from core exceptions to HTTP status codes. A `hint` says what to do when we know it."""

from __future__ import annotations

from typing import Any

from metahuman_core.errors import (AlreadyRunning, ConfigError, CorruptFile, MHError,
                                   NotFound, NotInitialised, ValidationFailed)


class ApiError(Exception):
    """Raised by a route to answer `status` with the seed's error shape (plus `extra` keys)."""

    def __init__(self, status: int, message: str, *, hint: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"success": False, "error": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update(self.extra)
        return out


def status_for(exc: MHError) -> int:
    if isinstance(exc, ValidationFailed):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyRunning):
        return 409
    if isinstance(exc, NotInitialised):
        return 503
    if isinstance(exc, (ConfigError, CorruptFile)):
        return 500  # the person's file is broken: a server-side problem, named in the message
    return 500


def from_mh(exc: MHError) -> ApiError:
    return ApiError(status_for(exc), exc.message, hint=exc.hint)


def describe_validation(errors: list[dict]) -> str:
    """pydantic/FastAPI errors → one sentence naming each field."""
    parts = []
    for err in errors[:10]:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        where = ".".join(loc) or "body"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"'{where}' is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field '{where}'")
        elif kind == "json_invalid":
            parts.append("the body is not valid JSON")
        elif where == "body" and kind in ("model_attributes_type", "dict_type", "model_type"):
            parts.append("the body must be a JSON object sent with "
                         "'Content-Type: application/json'")
        else:
            parts.append(f"'{where}': {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts or ["malformed input"])


def install(app) -> None:
    """Register the handlers on a FastAPI app (every error answers with the same shape)."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(MHError)
    async def _mh_error(request, exc: MHError):
        err = from_mh(exc)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        body = {"success": False, "error": describe_validation(errors), "detail": errors}
        return JSONResponse(_jsonable(body), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse({"success": False, "error": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):  # honest 500, never a fake success
        return JSONResponse({"success": False,
                             "error": f"Internal error: {type(exc).__name__}: {exc}"[:500]},
                            status_code=500)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
