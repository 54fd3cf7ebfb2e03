"""Row writes of the index: one memory = a docs row, its FTS row, its tags; vectors dropped when
the text changes. Each folder's (count, sum of file signatures) lets sync() tell cheaply whether a
folder still holds exactly what the index knows."""

from __future__ import annotations

import json
import os
import sqlite3
import zlib

from .records import doc_fields


def put(conn: sqlite3.Connection, dirname: str, name: str, st: os.stat_result, record: dict) -> None:
    f = doc_fields(name[:-5], record, st)
    row = conn.execute("SELECT rid FROM docs WHERE dir=? AND name=?", (dirname, name)).fetchone()
    values = (name[:-5], st.st_ino, st.st_mtime_ns, st.st_size, sig(name, st.st_ino), f["ts"],
              f["day"], f["timestamp"], f["type"], json.dumps(f["tags"], ensure_ascii=False),
              f["state"], f["retry"], f["source"])
    if row:
        rid = row[0]
        conn.execute("DELETE FROM fts WHERE rowid=?", (rid,))
        conn.execute("DELETE FROM doc_tags WHERE rid=?", (rid,))
        conn.execute("DELETE FROM vecs WHERE rid=?", (rid,))
        conn.execute("UPDATE docs SET id=?, ino=?, mtime=?, size=?, sig=?, ts=?, day=?, "
                     "timestamp=?, type=?, tags=?, state=?, retry=?, source=? WHERE rid=?", (*values, rid))
    else:
        rid = conn.execute("INSERT INTO docs(id, ino, mtime, size, sig, ts, day, timestamp, type, "
                           "tags, state, retry, source, dir, name) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (*values, dirname, name)).lastrowid
    conn.execute("INSERT INTO fts(rowid, content, response, tags, entities) VALUES (?,?,?,?,?)",
                 (rid, f["content"], f["response"], " ".join(f["tags"]), " ".join(f["entities"])))
    if f["tags"]:
        conn.executemany("INSERT OR IGNORE INTO doc_tags(tag, rid) VALUES (?, ?)",
                         [(t, rid) for t in f["tags"]])
    conn.execute("DELETE FROM bad WHERE dir=? AND name=?", (dirname, name))
    conn.execute("INSERT OR IGNORE INTO dirs VALUES (?, -1)", (dirname,))


def sig(name: str, ino: int) -> int:
    """32-bit signature of one file (name, inode): sums of these tell whether a folder still
    holds exactly what the index knows (a rename, an editor's save or an add changes it)."""
    return (zlib.crc32(name.encode("utf-8", "surrogateescape")) ^ (ino * 2654435761)) & 0xFFFFFFFF


def drop(conn: sqlite3.Connection, rid: int) -> None:
    for sql in ("DELETE FROM fts WHERE rowid=?", "DELETE FROM doc_tags WHERE rid=?",
                "DELETE FROM vecs WHERE rid=?", "DELETE FROM docs WHERE rid=?"):
        conn.execute(sql, (rid,))
