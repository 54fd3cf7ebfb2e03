"""/api/file_operations (the seed's endpoint, exact shapes) and GET /api/files (listing).

POST actions: create, read, write (the seed's), and list, delete, metadata, mkdir, search,
batch (its "future enhancements"). GET ?action=status is the seed's status call; GET
?action=list|metadata are read-only conveniences. Logic lives in fileops.py.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

from .deps import get_profile
from .errors import ApiError
from .fileops import FileOps
from .schemas import FileOperationResponse, FileOperationsRequest, FileStatusResponse

router = APIRouter(tags=["files"])

_ERRORS = {
    400: {"description": "Missing parameters, unsupported action or invalid filename"},
    403: {"description": "Insufficient trust level, or refused by the sandbox"},
    404: {"description": "No such file or folder in out/"},
    409: {"description": "Already exists, or a folder where a file is expected"},
    422: {"description": "Not a UTF-8 text file"},
    500: {"description": "File system error"},
    503: {"description": "The required skill is not available"},
}


def _answer(code: int, body: dict) -> JSONResponse:
    return JSONResponse(body, status_code=code)


@router.post("/api/file_operations", response_model=FileOperationResponse, responses=_ERRORS,
             summary="Secure file operations inside out/ (create, read, write, list, delete, "
                     "metadata, mkdir, search, batch)")
def file_operations(body: FileOperationsRequest, profile=Depends(get_profile)) -> JSONResponse:
    ops = FileOps(profile)
    request = body.model_dump(exclude={"operations", "stopOnError"})
    try:
        if body.action == "batch":
            operations = [o.model_dump() for o in body.operations or []]
            return _answer(*ops.batch(operations, bool(body.stopOnError)))
        if body.operations is not None:
            raise ApiError(400, "operations is only allowed with action \"batch\"")
        return _answer(*ops.dispatch(request))
    except ApiError as exc:
        return _answer(exc.status, exc.body())


@router.get("/api/file_operations", response_model=FileStatusResponse | FileOperationResponse,
            responses=_ERRORS, summary="File system status (action=status), or a read-only "
                                       "list/metadata")
def file_operations_get(
    action: str = Query("status", max_length=20, description="status (default), list or "
                                                             "metadata."),
    filename: str | None = Query(None, max_length=1024, description="list/metadata: path "
                                                                    "inside out/."),
    pattern: str | None = Query(None, max_length=200),
    recursive: bool = False,
    profile=Depends(get_profile),
) -> JSONResponse:
    ops = FileOps(profile)
    try:
        if action == "status":
            return _answer(200, ops.status())
        if action in ("list", "metadata"):
            return _answer(*ops.dispatch({"action": action, "filename": filename,
                                          "pattern": pattern, "recursive": recursive}))
        raise ApiError(400, f"Unknown action: {action}",
                       hint="GET supports action=status, list or metadata; POST the others")
    except ApiError as exc:
        return _answer(exc.status, exc.body())


@router.get("/api/files", response_model=FileOperationResponse, responses=_ERRORS,
            summary="List files in out/ (or a folder inside it)")
def list_files(
    path: str | None = Query(None, max_length=1024, description="Folder inside out/ "
                                                                "(default: out/ itself)."),
    pattern: str | None = Query(None, max_length=200, description="Glob on names, e.g. *.md"),
    recursive: bool = False,
    sort: Literal["name", "size"] = "name",
    profile=Depends(get_profile),
) -> JSONResponse:
    ops = FileOps(profile)
    try:
        code, body = ops.dispatch({"action": "list", "filename": path, "pattern": pattern,
                                   "recursive": recursive})
    except ApiError as exc:
        return _answer(exc.status, exc.body())
    if sort == "size":
        body["files"].sort(key=lambda f: (-(f.get("size") or 0), f["name"]))
    return _answer(code, body)
