"""The index handle one process keeps: its shared searcher follows every change of the index."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from archive.config import Config
from archive.errors import EscrowError, InvalidInput
from archive.reading_room.engines import choose
from archive.reading_room.index import Index
from archive.reading_room.search import search

index_module = importlib.import_module("archive.reading_room.index")  # the package's index() hides it


def _doc(story_id: str, words: str) -> dict[str, object]:
    return {"id": story_id, "title": words, "body": words, "summary": "", "tags": "", "language": "en",
            "level": "full", "content_hash": "x"}


def test_a_searcher_opened_on_an_empty_index_sees_the_first_documents(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    index.ensure()
    assert search(index, "picket").total == 0  # the shared searcher is opened on no documents

    index.write(add=[_doc("a" * 16, "picket line at dawn")], delete=())

    assert [h.id for h in search(index, "picket").hits] == ["a" * 16]


def test_the_shared_searcher_sees_additions_and_purges(tmp_path: Path) -> None:
    index = Index(tmp_path / "index")
    index.ensure()
    index.write(add=[_doc("a" * 16, "picket line"), _doc("b" * 16, "picket sign")], delete=())
    assert search(index, "picket").total == 2

    index.write(add=(), delete=["a" * 16])
    index.purge()

    assert [h.id for h in search(index, "picket").hits] == ["b" * 16]


def _segment_files(index: Index) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in index.path.glob("*.seg")}


def test_additions_are_cut_into_bounded_segments_and_a_purge_rewrites_only_the_one_with_the_deletion(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index_module, "SEGMENT_DOCS", 5)
    monkeypatch.setattr(index_module, "_SMALL", 1)
    index = Index(tmp_path / "index")
    index.ensure()
    index.write(add=[_doc(f"{n:016d}", f"picket number{n}") for n in range(20)], delete=())
    before = _segment_files(index)
    assert len(before) == 4

    index.write(add=(), delete=[f"{7:016d}"])

    assert search(index, "number7").total == 0  # gone from search before any purge
    assert index.pending() == 1 and _segment_files(index) == before
    assert index.purge() == 1
    after = _segment_files(index)
    assert index.pending() == 0
    assert len(set(before.items()) & set(after.items())) == 3  # three segments untouched
    assert not any(b"number7" in p.read_bytes() for p in index.path.iterdir() if p.is_file())
    assert search(index, "picket").total == 19


@pytest.mark.parametrize("url, setting, chosen", [
    ("sqlite:///x.db", "auto", "whoosh"), ("sqlite:///x.db", "whoosh", "whoosh"),
    ("postgresql+psycopg://u@127.0.0.1/db", "auto", "postgres"),
    ("postgresql+psycopg://u@127.0.0.1/db", "whoosh", "whoosh"),
    ("postgresql+psycopg://u@127.0.0.1/db", "postgres", "postgres"),
])
def test_the_search_backend_follows_the_setting_and_the_database(tmp_path: Path, url: str, setting: str,
                                                                  chosen: str) -> None:
    config = Config.for_home(tmp_path, database_url=url, search=setting)
    assert choose(config, Index(tmp_path / "index")).name == chosen


def test_search_in_postgresql_on_sqlite_and_an_unknown_backend_are_refused_with_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(EscrowError, match="ESCROW_SEARCH=postgres needs the archive's database on PostgreSQL"):
        choose(Config.for_home(tmp_path, search="postgres"), Index(tmp_path / "index"))
    with pytest.raises(InvalidInput, match="ESCROW_SEARCH must be 'auto', 'whoosh' or 'postgres'"):
        Config.from_env({"ARCHIVE_HOME": str(tmp_path), "ESCROW_SEARCH": "elastic"})
