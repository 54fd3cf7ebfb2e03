"""The FastAPI app factory (DESIGN §11): routes over one Profile, behind the guard.

`create_api(profile)` gives the safe default: loopback Host names only, the token required for
every write. `mh serve` passes `token_for_reads=True, allowed_hosts=None` when it binds to a
non-loopback address. Tests build the app directly and talk to it with TestClient.
"""

from __future__ import annotations

from typing import Iterable

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from metahuman_core import __version__
from metahuman_core.api_token import ensure_token

from . import errors
from .auth import LOOPBACK_NAMES, SAFE_METHODS, AccessPolicy
from .guard import Guard
from .schemas import ErrorResponse

DESCRIPTION = """MetaHuman OS REST API over your local profile.

* Every write needs `Authorization: Bearer <token>` (the token is in `etc/secrets/api-token`).
  When the server is bound to a non-loopback address, every request needs it.
* Every file and task action runs through the skill gate as you (the human actor): an
  authenticated request is your consent for actions that would otherwise ask for approval;
  actions your trust level denies are refused with 403.
* Errors always have the shape `{"success": false, "error": "..."}`.
"""


def create_api(profile, *, token: str | None = None, token_for_reads: bool = False,
               allowed_hosts: Iterable[str] | None = LOOPBACK_NAMES) -> FastAPI:
    """Build the API for `profile`. `token` defaults to the profile's (generated if missing)."""
    from . import routes_approvals, routes_audit, routes_files, routes_status, routes_tasks

    policy = AccessPolicy(token=token or ensure_token(profile), token_for_reads=token_for_reads,
                          allowed_hosts=None if allowed_hosts is None else frozenset(
                              h.lower() for h in allowed_hosts))
    app = FastAPI(title="MetaHuman OS API", version=__version__, description=DESCRIPTION,
                  docs_url=None, redoc_url=None)  # Swagger UI would load scripts from a CDN
    app.state.profile = profile
    _ = profile.audit, profile.config, profile.persona  # build once, before worker threads share them
    app.state.policy = policy
    errors.install(app)
    for module in (routes_status, routes_tasks, routes_audit, routes_approvals, routes_files):
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app, policy)  # type: ignore[method-assign]
    app.add_middleware(Guard, profile=profile, policy=policy)
    return app


def _openapi(app: FastAPI, policy: AccessPolicy) -> dict:
    """FastAPI's document, plus what the guard enforces: the bearer scheme on each operation,
    400 (not 422) for invalid input, 401 for missing tokens, 413 for oversized bodies."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description,
                         routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["apiToken"] = {
        "type": "http", "scheme": "bearer",
        "description": "The token in etc/secrets/api-token."}
    schemas = components.setdefault("schemas", {})
    schemas["ErrorResponse"] = ErrorResponse.model_json_schema(
        ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path_item in schema.get("paths", {}).values():
        for method, op in path_item.items():
            if not isinstance(op, dict):
                continue
            write = method.upper() not in SAFE_METHODS
            needs = write or policy.token_for_reads
            op["security"] = [{"apiToken": []}] if needs else [{}, {"apiToken": []}]
            responses = op.setdefault("responses", {})
            if responses.get("422", {}).get("description") == "Validation Error":
                responses.pop("422")  # FastAPI's default: we answer invalid input with 400
            responses.setdefault("400", {"description": "Invalid input", "content": error_ref})
            if needs:
                responses.setdefault("401", {"description": "Missing or wrong API token",
                                             "content": error_ref})
            if policy.allowed_hosts is not None:
                responses.setdefault("403", {"description": "Host header is not a loopback name "
                                                            "(DNS-rebinding protection)",
                                             "content": error_ref})
            if write:
                responses.setdefault("413", {"description": "Body over etc/api.json maxBodyBytes",
                                             "content": error_ref})
            for code, resp in responses.items():
                if code[0] in "45" and "content" not in resp:
                    resp["content"] = error_ref
    app.openapi_schema = schema
    return schema
