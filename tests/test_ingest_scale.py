"""A large text file: written in batches with progress, indexed in batches, ids claimed without
re-probing every taken name (a 10 MB file of similar paragraphs took 84 s: each of ~8k chunks
shares one id stem, and every write tried all the names before it)."""

from __future__ import annotations

import os

from metahuman_core.memory import MemoryStore
from metahuman_core.memory import inbox as inbox_mod
from metahuman_core.memory import store as store_mod
from metahuman_core.search import search


def test_same_stem_writes_claim_ids_in_linear_time(profile, fixed_clock, monkeypatch):
    store = MemoryStore(profile)
    real_open = os.open
    calls = []

    def counting_open(path, flags, *a, **kw):
        if flags & os.O_EXCL and os.path.basename(path).startswith("evt-"):
            calls.append(path)      # claiming an id (temp files start with ".")
        return real_open(path, flags, *a, **kw)

    monkeypatch.setattr(store_mod.os, "open", counting_open)
    n = 400
    for _ in range(n):
        store.write_new(store.prepare("Same words at the same second"), durable=False)
    assert len(calls) <= n + 1          # was n * (n + 1) / 2 (80,200 here)
    names = {p.name for p in (profile.home.episodic / "2025").iterdir()}
    assert len(names) == n and "evt-20251019-160000-same-words-at-the-same-second-400.json" in names


def test_large_text_is_written_and_indexed_in_batches_with_progress(profile, fixed_clock,
                                                                     monkeypatch):
    monkeypatch.setattr(inbox_mod, "INDEX_EVERY", 50)
    paragraphs = [f"Paragraph {i} about the lighthouse keeper and the storm number {i}. " * 8
                  for i in range(260)]
    (profile.home.inbox / "book.txt").write_text("\n\n".join(paragraphs))
    batches = []
    real = MemoryStore._reindex

    def spy(self, pairs, before=None):
        batches.append(len(pairs))
        return real(self, pairs, before)

    monkeypatch.setattr(MemoryStore, "_reindex", spy)
    seen = []
    result = inbox_mod.process_inbox(profile, settle_s=0,
                                     progress=lambda name, done, total: seen.append((name, done,
                                                                                     total)))
    total = result["memories"]
    assert result["files"] == 1 and total == len(MemoryStore(profile).list(limit=None))
    assert batches and max(batches) <= 50 and sum(batches) == total
    assert seen[-1] == ("book.txt", total, total)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)
    assert [h.content[:12] for h in search(profile, '"storm number 259"')] == ["Paragraph 25"]
