"""File skills: fs_list, fs_read (anywhere readable in the home), fs_write, fs_delete (out/ only).

Every path goes through `metahuman_core.sandbox`; paths in results are relative to the home.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from ..errors import MHError
from ..sandbox import Sandbox
from .registry import Args, Skill, register

if TYPE_CHECKING:
    from ..profile import Profile


def _box(profile: Profile) -> Sandbox:
    return Sandbox(profile.root)


class ListArgs(Args):
    path: str = Field(".", description="Folder relative to the home, e.g. \"docs\".")
    pattern: str = Field("*", description="Glob on names, e.g. \"*.md\"; \"**/*.md\" looks below too.")
    recursive: bool = Field(False, description="Also look in sub-folders.")


class ReadArgs(Args):
    path: str = Field(..., description="File relative to the home, e.g. \"README.md\".")


class WriteArgs(Args):
    path: str = Field(..., description="File under out/, e.g. \"out/notes.txt\" (a bare name "
                                       "such as \"notes.txt\" means out/notes.txt).")
    content: str = Field(..., description="The complete text to write.")
    overwrite: bool = Field(False, description="Replace the file if it exists.")


class MkdirArgs(Args):
    path: str = Field(..., description="Folder under out/, e.g. \"out/projects\".")


class DeleteArgs(Args):
    path: str = Field(..., description="File under out/, e.g. \"out/notes.txt\".")


def fs_list(profile: Profile, args: ListArgs, actor: str) -> dict:
    return _box(profile).list(args.path, args.pattern, recursive=args.recursive)


def fs_read(profile: Profile, args: ReadArgs, actor: str) -> dict:
    shown, data = _box(profile).read_bytes(args.path)
    if b"\x00" in data[:8192]:
        raise MHError(f"{shown} is a binary file; fs_read reads text only")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MHError(f"{shown} is not UTF-8 text; fs_read reads text only") from None
    return {"path": shown, "content": text, "size": len(data)}


def fs_write(profile: Profile, args: WriteArgs, actor: str) -> dict:
    return _box(profile).write_bytes(args.path, args.content.encode("utf-8"),
                                     overwrite=args.overwrite)


def fs_mkdir(profile: Profile, args: MkdirArgs, actor: str) -> dict:
    return _box(profile).mkdir(args.path)


def fs_delete(profile: Profile, args: DeleteArgs, actor: str) -> dict:
    return _box(profile).delete(args.path)


def _check_read(profile: Profile, args) -> None:
    _box(profile).resolve_read(args.path)


def _check_list(profile: Profile, args: ListArgs) -> None:
    from ..sandbox import check_pattern

    _box(profile).resolve_read(args.path)
    check_pattern(args.pattern)


def _check_write(profile: Profile, args: WriteArgs) -> None:
    _box(profile).resolve_write(args.path)


def _check_delete(profile: Profile, args: DeleteArgs) -> None:
    _box(profile).resolve_write(args.path, verb="delete", final_link_ok=True)


def _sum_list(result: dict) -> dict:
    return {"path": result["path"], "count": result["count"], "truncated": result["truncated"]}


def _sum_read(result: dict) -> dict:
    # never the content: the path, size and a digest are enough to know what was read
    from ..redact import summarize_content

    return {"path": result["path"], **summarize_content(result["content"])}


register(Skill(
    id="fs_list", category="fs", risk="low", min_trust="observe", args=ListArgs, fn=fs_list,
    description="List files in a folder of the home whose names match a glob. Returns entries "
                "with paths relative to the home, sorted.",
    precheck=_check_list, summary=_sum_list))
register(Skill(
    id="fs_read", category="fs", risk="low", min_trust="observe", args=ReadArgs, fn=fs_read,
    description="Read a UTF-8 text file inside the home (secrets and .git are off limits). "
                "Returns {path, content, size}.",
    precheck=_check_read, summary=_sum_read))
register(Skill(
    id="fs_write", category="fs", risk="medium", min_trust="suggest", args=WriteArgs, fn=fs_write,
    description="Write a text file under out/ (the only writable folder). Refuses to replace an "
                "existing file unless overwrite is true.",
    precheck=_check_write, summary=lambda r: dict(r)))
register(Skill(  # beyond the DESIGN §7 table ("more allowed"): the REST API's mkdir action
    id="fs_mkdir", category="fs", risk="low", min_trust="suggest", args=MkdirArgs, fn=fs_mkdir,
    description="Create a folder (and its parents) under out/. An existing folder is fine.",
    precheck=_check_write, summary=lambda r: dict(r)))
register(Skill(
    id="fs_delete", category="fs", risk="high", min_trust="supervised_auto", args=DeleteArgs,
    fn=fs_delete,
    description="Delete one file (or empty folder) under out/. Deleting a link removes the link only.",
    precheck=_check_delete, summary=lambda r: dict(r)))
