"""Request and response models: the API's contract as it appears in /openapi.json.

Requests forbid unknown fields (a typo such as "overwite" is an error naming it, not ignored).
Responses allow extra fields, so adding information never breaks a client.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FILE_ACTIONS = ("create", "read", "write", "list", "delete", "metadata", "mkdir", "search", "batch")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorResponse(_Response):
    success: Literal[False] = False
    error: str = Field(..., description="What went wrong, naming the field or file.")
    hint: str | None = Field(None, description="What to do about it, when known.")


# ---------------------------------------------------------------- file operations
class FileOperation(_Request):
    """One file operation (also an item of `operations` in a batch)."""

    action: str | None = Field(None, description="One of: " + ", ".join(FILE_ACTIONS[:-1]) + ".",
                               examples=["create"])
    filename: str | None = Field(None, description="Path inside out/, e.g. \"example.txt\" or "
                                 "\"notes/today.md\". Folders are separated by '/'; no '..', no "
                                 "leading '.', no absolute paths.", examples=["example.txt"])
    content: str | None = Field(None, description="The file's text (create/write).")
    overwrite: bool | None = Field(None, description="Replace an existing file. Default: false "
                                   "for create, true for write.")
    pattern: str | None = Field(None, description="list/search: glob on names, e.g. \"*.md\".")
    recursive: bool | None = Field(None, description="list: also look in sub-folders.")
    query: str | None = Field(None, description="search: text to find in names (and contents "
                              "when \"contents\" is true).")
    contents: bool | None = Field(None, description="search: also search inside text files.")


class FileOperationsRequest(FileOperation):
    """POST /api/file_operations: the seed's request, plus the planned actions."""

    operations: list[FileOperation] | None = Field(
        None, description="batch: up to 100 operations, run in order.")
    stopOnError: bool | None = Field(None, description="batch: stop at the first failure.")


class FileOperationResponse(_Response):
    success: bool
    message: str | None = None
    path: str | None = Field(None, description="Absolute path of the file or folder.")
    content: str | None = Field(None, description="read: the file's text.")
    error: str | None = None


class FileStatusResponse(_Response):
    status: str = Field(..., examples=["online"])
    trustLevel: str
    canWrite: bool
    canRead: bool
    basePath: str


# ---------------------------------------------------------------- tasks
class TaskCreateRequest(_Request):
    title: str = Field(..., min_length=1, max_length=300)
    description: str = ""
    priority: Literal["P0", "P1", "P2", "P3"] = "P2"
    due: str | None = Field(None, description="YYYY-MM-DD")
    tags: list[str] = Field(default_factory=list, max_length=50)


class TaskPatchRequest(_Request):
    taskId: str = Field(..., description="e.g. task-20251019-160500", examples=["task-20251019-160500"])
    status: Literal["todo", "in_progress", "blocked", "done", "cancelled"]


class TasksResponse(_Response):
    tasks: list[dict[str, Any]]
    status: str
    problems: list[str] | None = Field(None, description="Unreadable task files (file: reason).")


class TaskWriteResponse(_Response):
    success: bool
    task: dict[str, Any] | None = None


# ---------------------------------------------------------------- approvals
class ApprovalDecisionRequest(_Request):
    id: str = Field(..., description="e.g. apr-20251019-160500-1a2b3c", examples=["apr-20251019-160500-1a2b3c"])
    action: Literal["approve", "reject"]
    reason: str | None = Field(None, max_length=2000, description="Required to reject.")


class ApprovalsResponse(_Response):
    approvals: list[dict[str, Any]]
    problems: list[str] | None = Field(None, description="Unreadable approval files (file: reason).")


class ApprovalDecisionResponse(_Response):
    success: bool
    approval: dict[str, Any]


# ---------------------------------------------------------------- status / audit
class StatusResponse(_Response):
    identity: dict[str, Any]
    tasks: dict[str, Any]
    model: dict[str, Any]
    counts: dict[str, Any]


class AuditResponse(_Response):
    date: str
    entries: list[dict[str, Any]]
    summary: dict[str, Any]
    truncated: bool


class SecurityReportResponse(_Response):
    date: str
    issues: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
