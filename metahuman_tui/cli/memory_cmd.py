"""`mh capture`, `mh search`, `mh index rebuild|status|refresh|embed`, `mh ingest`,
`mh memory show|list|delete|tag`. Core modules are imported inside the commands (fast start)."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import common


def _short(record: dict) -> str:
    ts = str(record.get("timestamp", ""))[:16].replace("T", " ")
    tags = record.get("tags") or []
    tag_text = f"  [{', '.join(map(str, tags))}]" if tags else ""
    return f"{record.get('id')}  {ts}  {record.get('type', '')}{tag_text}"


def _one_line(text: str, width: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def register(app: typer.Typer) -> None:
    @app.command("capture")
    def capture(
        text: List[str] = typer.Argument(..., help='What to remember ("-" reads standard input).'),
        type_: str = typer.Option("observation", "--type", help="observation, journal, conversation, …"),
        tag: Optional[List[str]] = typer.Option(None, "--tag", "-t", help="Tag (repeatable)."),
        entity: Optional[List[str]] = typer.Option(None, "--entity", "-e", help="Person, place, thing (repeatable)."),
        importance: float = typer.Option(0.5, "--importance", "-i", help="0 to 1."),
        json_out: bool = typer.Option(False, "--json", help="Print the new memory as JSON."),
    ) -> None:
        """Capture a memory: memory/episodic/YYYY/evt-YYYYMMDD-HHMMSS-<slug>.json (audited)."""
        from metahuman_core.memory.store import MemoryStore

        content = sys.stdin.read() if text == ["-"] else " ".join(text)
        store = MemoryStore(common.profile())
        rec = store.capture(content, type=type_, tags=tag or (), entities=entity or (),
                            importance=importance, actor=common.ACTOR)
        from metahuman_core import activity

        activity.touch(store.profile, "capture")  # the sleep-service waits for quiet
        if json_out:
            common.emit_json(rec)
        else:
            common.echo(f"Captured to: {store.relpath(rec['path'])}")

    @app.command("search")
    def search(
        query: List[str] = typer.Argument(..., help='Words, "phrases", -excluded, type: tag: entity: after: before:'),
        type_: str = typer.Option(None, "--type", help="Only this memory type."),
        tag: str = typer.Option(None, "--tag", "-t", help="Only memories with this tag."),
        after: str = typer.Option(None, "--after", help="On or after YYYY-MM-DD (or ISO date-time)."),
        before: str = typer.Option(None, "--before", help="Before YYYY-MM-DD (or ISO date-time)."),
        limit: int = typer.Option(10, "--limit", "-n", min=1, max=10_000, help="At most N results."),
        mode: str = typer.Option("keyword", "--mode", "-m", help="keyword | semantic | hybrid"),
        json_out: bool = typer.Option(False, "--json", help="Results as a JSON array."),
    ) -> None:
        """Search memories (BM25 over content, tags and entities; optional embeddings)."""
        from metahuman_core.search.engine import index_for, search as run_search

        if not " ".join(query).strip() and not (type_ or tag or after or before):
            common.fail("QUERY is empty", 2,
                        hint="mh search 'sarah \"project plan\" tag:work', or list: mh memory list")
        prof = common.profile()
        if mode in ("semantic", "hybrid"):
            from metahuman_core.search import embedder, semantic

            embedder.model_dir()   # not installed: a clear error with the install hint
            index = index_for(prof)
            index.sync()
            missing = semantic.missing_count(index)
            if missing > 200:
                common.echo(f"embedding {missing} memories for semantic search (first time only; "
                            "`mh index embed` shows progress)…", err=True)
        hits = run_search(prof, " ".join(query), limit=limit, mode=mode, type=type_,
                          tag=tag, after=after, before=before)
        if json_out:
            common.emit_json([h.to_dict() for h in hits])
            return
        if not hits:
            common.echo("nothing found")
            return
        for n, h in enumerate(hits, 1):
            tags = f"  [{', '.join(h.tags)}]" if h.tags else ""
            common.echo(f"{n:2}. {h.id}  {h.timestamp[:16].replace('T', ' ')}  {h.type}{tags}")
            common.echo(f"    {_one_line(h.snippet, 110)}")

    idx = typer.Typer(help="The search index (memory/index/): derived, rebuildable.",
                      no_args_is_help=True)
    app.add_typer(idx, name="index")

    @idx.command("rebuild")
    def rebuild(json_out: bool = typer.Option(False, "--json", help="Counts as JSON.")) -> None:
        """Re-read every memory file into a fresh index."""
        from metahuman_core.search.engine import index_for

        prof = common.profile()
        counts = index_for(prof).rebuild(audit=prof.audit, actor=common.ACTOR)  # audited in the core
        if json_out:
            common.emit_json(counts)
        else:
            common.echo(f"Indexed {counts['added']} memories in {counts['seconds']} s"
                        + (f" ({counts['bad']} unreadable files skipped: mh index status)"
                           if counts["bad"] else ""))

    @idx.command("status")
    def status(json_out: bool = typer.Option(False, "--json", help="Status as JSON.")) -> None:
        """Size, counts and unreadable memory files (after picking up changes made by hand)."""
        from metahuman_core.search.engine import index_for

        index = index_for(common.profile())
        index.sync(full=True)
        st = index.status()
        if json_out:
            common.emit_json(st)
            return
        for key in ("path", "memories", "embedded", "embedding_model", "bytes", "last_rebuild",
                    "last_full_sync"):
            common.echo(f"{key + ':':17} {st[key] if st[key] is not None else '-'}")
        common.echo(f"{'corrupt:':17} {len(st['corrupt'])}")
        for bad in st["corrupt"]:
            common.echo(f"  memory/episodic/{bad['path']}: {bad['reason']}")

    @idx.command("refresh")
    def refresh(json_out: bool = typer.Option(False, "--json", help="Counts as JSON.")) -> None:
        """Pick up every change made by hand (full stat sweep; cheaper than rebuild)."""
        from metahuman_core.search.engine import index_for

        counts = index_for(common.profile()).sync(full=True)
        common.emit_json(counts) if json_out else common.echo(
            ", ".join(f"{k} {v}" for k, v in counts.items()))

    @idx.command("embed")
    def embed() -> None:
        """Compute embeddings for semantic search now (otherwise the first semantic search does)."""
        from metahuman_core.search import semantic
        from metahuman_core.search.engine import index_for

        index = index_for(common.profile())
        index.sync()
        n = semantic.embed_missing(index, progress=lambda d, t: common.echo(f"  {d}/{t}", err=True))
        common.echo(f"embedded {n} memories")

    @app.command("ingest")
    def ingest(
        paths: Optional[List[str]] = typer.Argument(
            None, help="Files or folders (their top-level files; a vault with .obsidian/ is one import)."),
        now: bool = typer.Option(False, "--now", help="Import the inbox at once."),
        format_: str = typer.Option(
            None, "--format", help="Force a format: whatsapp, telegram, markdown, json, jsonl, text."),
        me: Optional[List[str]] = typer.Option(
            None, "--me", help="Your name in chat exports (repeatable; default: persona name and aliases)."),
        recursive: bool = typer.Option(False, "--recursive", "-r", help="Also the files in subfolders."),
        json_out: bool = typer.Option(False, "--json", help="Result as JSON."),
    ) -> None:
        """Copy files into memory/inbox/ (the ingestor agent imports them; --now does it here)."""
        from pathlib import Path

        from metahuman_core.memory.importers import check_format
        from metahuman_core.memory.inbox import Skipped, ingest_paths, process_inbox

        from . import ingest_view

        prof = common.profile()
        if not paths and not now:
            common.fail("give files or folders to ingest, or --now to import the inbox", 2)
        if format_ and not paths:
            common.fail("--format applies to the files given: mh ingest FILE --format NAME", 2)
        skipped = Skipped()
        queued = ingest_paths(prof, [Path(p) for p in paths or []], actor=common.ACTOR,
                              skipped=skipped, recursive=recursive,
                              format=check_format(format_) if format_ else None, me=me)
        result: dict = {"queued": [str(p.relative_to(prof.root)) for p in queued],
                        "skippedBinary": [str(p) for p in skipped.binary],
                        "skippedFolders": [str(p) for p in skipped.folders]}
        if now:
            with ingest_view.progress_bar() as progress:
                result.update(process_inbox(prof, actor=common.ACTOR, settle_s=0, me=me,
                                            progress=progress if not json_out else None))
        if json_out:
            common.emit_json(result)
        else:
            if paths:
                common.echo(f"Queued {len(queued)} file(s) in memory/inbox/")
                if skipped.binary:
                    common.echo(f"Left {len(skipped.binary)} binary file(s) where they are, "
                                f"e.g. {skipped.binary[0]}")
                if skipped.folders:
                    common.echo(f"Skipped {len(skipped.folders)} subfolder(s) (add --recursive "
                                f"to take their files): "
                                + ", ".join(str(p) for p in skipped.folders[:5]))
            if now:
                ingest_view.print_result(result)
            else:
                common.echo("Run: mh agent run ingestor   (or: mh ingest --now)")
        if now and result.get("failed"):
            raise typer.Exit(1)

    mem = typer.Typer(help="Show, list, tag and delete memories.", no_args_is_help=True)
    app.add_typer(mem, name="memory")

    @mem.command("show")
    def show(memory_id: str = typer.Argument(..., help="evt-YYYYMMDD-HHMMSS-slug"),
             json_out: bool = typer.Option(False, "--json", help="The whole record as JSON.")) -> None:
        """Print one memory."""
        from metahuman_core.memory.store import MemoryStore

        rec = MemoryStore(common.profile()).get(memory_id)
        if json_out:
            common.emit_json(rec)
            return
        common.echo(_short(rec))
        if rec.get("entities"):
            common.echo("entities: " + ", ".join(map(str, rec["entities"])))
        common.echo("")
        common.echo(str(rec.get("content", "")))
        if rec.get("response"):
            common.echo("\nresponse:\n" + str(rec["response"]))

    @mem.command("list")
    def list_(
        type_: str = typer.Option(None, "--type", help="Only this type."),
        tag: str = typer.Option(None, "--tag", "-t", help="Only this tag."),
        after: str = typer.Option(None, "--after", help="On or after YYYY-MM-DD."),
        before: str = typer.Option(None, "--before", help="Before YYYY-MM-DD."),
        limit: int = typer.Option(20, "--limit", "-n", min=1, max=1_000_000,
                                 help="At most N (newest first)."),
        json_out: bool = typer.Option(False, "--json", help="Records as a JSON array."),
    ) -> None:
        """List memories, newest first."""
        from metahuman_core.memory.store import MemoryStore

        store = MemoryStore(common.profile())
        recs = store.list(after=after, before=before, type=type_, tag=tag, limit=limit)
        if json_out:
            common.emit_json(recs)
            return
        if not recs:
            common.echo("no memories")
        for rec in recs:
            common.echo(_short(rec))
            common.echo(f"    {_one_line(rec.get('content', ''), 110)}")
        for path, reason in store.corrupt:
            common.echo(f"warning: skipped {store.relpath(path)}: {reason}", err=True)
        bad = [b for b in store.index.status().get("corrupt") or []
               if (store.root / b["path"]).exists()]
        if bad and not store.corrupt:  # the index skipped them before list() could see them
            common.echo(f"warning: {len(bad)} unreadable memory file(s) not listed "
                        f"(first: {bad[0]['path']}: {bad[0]['reason']}); see: mh index status",
                        err=True)

    @mem.command("delete")
    def delete(memory_id: str = typer.Argument(..., help="evt-YYYYMMDD-HHMMSS-slug"),
               yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask.")) -> None:
        """Delete one memory file (audited)."""
        from metahuman_core.memory.store import MemoryStore

        from metahuman_core.errors import CorruptFile

        store = MemoryStore(common.profile())
        try:
            what = _one_line(store.get(memory_id).get("content", ""), 60)
        except CorruptFile as exc:  # a broken file must still be removable from here
            what = f"unreadable: {exc.reason}"
        if not yes and not typer.confirm(f"Delete {memory_id} ({what})?"):
            common.fail("not deleted", 1)
        store.delete(memory_id, actor=common.ACTOR)
        common.echo(f"Deleted {memory_id}")

    @mem.command("tag")
    def tag_(memory_id: str = typer.Argument(..., help="evt-YYYYMMDD-HHMMSS-slug"),
             tags: List[str] = typer.Argument(..., help="Tags to add (or remove with --remove)."),
             remove: bool = typer.Option(False, "--remove", "-r", help="Remove these tags."),
             json_out: bool = typer.Option(False, "--json", help="The updated record as JSON.")) -> None:
        """Add or remove tags on a memory."""
        from metahuman_core.memory.store import MemoryStore

        store = MemoryStore(common.profile())
        rec = store.tag(memory_id, remove=tags, actor=common.ACTOR) if remove else \
            store.tag(memory_id, add=tags, actor=common.ACTOR)
        if json_out:
            common.emit_json(rec)
        else:
            common.echo(f"{memory_id}: tags {', '.join(rec.get('tags') or []) or '(none)'}")
