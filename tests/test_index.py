"""The index handle one process keeps: its shared searcher follows every change of the index."""

from __future__ import annotations

from pathlib import Path

from archive.reading_room.index import Index
from archive.reading_room.search import search


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

    index.write(add=(), delete=["a" * 16], purge=True)

    assert [h.id for h in search(index, "picket").hits] == ["b" * 16]
