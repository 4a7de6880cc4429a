"""Exports of released stories: one story in a citation or archival format, and a BagIt bag
of many for an archive's ingest (Archivematica reads it as an unzipped-bag transfer).

Everything comes from the reading-room table (released, already redacted copies); a
sealed, withdrawn or unknown id is the same NotFound as any other. A bag is written in a
temporary folder beside its destination and renamed into place only once complete, in the
transaction that records it, so a failure leaves no half bag and no audit entry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bagit

from archive import audit
from archive.audit import Action
from archive.errors import InvalidInput, NotFound
from archive.messages import N_
from archive.reading_room import copies, exports
from archive.reading_room.models import ReleasedStory
from archive.services import harvest, reading
from archive.services.context import Archive
from archive.times import format_instant, utcnow

xml_text = exports.xml_text  # for the XML doors (OAI-PMH): text XML 1.0 can carry
dublin_core = exports.dublin_core  # OAI-PMH's oai_dc and the bag's metadata.csv alike
EXPORT_VERSION = "1"  # part of every ETag: bump it when an export's shape changes


@dataclass(frozen=True)
class Format:
    """One export format: its label on the story page, media type and file extension."""

    name: str
    label: str
    mimetype: str
    extension: str
    render: Callable[[ReleasedStory, str], str | bytes | None]


@dataclass(frozen=True)
class Export:
    """One story rendered in one format, ready to send."""

    body: bytes
    mimetype: str
    filename: str
    etag: str


@dataclass(frozen=True)
class BagReport:
    """A bag written: where, and how many released stories it holds."""

    path: Path
    count: int


def _transcript(story: ReleasedStory, url: str) -> str | None:
    found = exports.transcript(story)
    return None if found is None else found.body


def _captions(story: ReleasedStory, url: str) -> str | None:
    return story.captions  # the released timed transcript, WebVTT as the gate wrote it


FORMATS = {f.name: f for f in (
    Format("bibtex", "BibTeX", "application/x-bibtex; charset=utf-8", "bib", exports.bibtex),
    Format("ris", "RIS (EndNote, Zotero)", "application/x-research-info-systems; charset=utf-8", "ris", exports.ris),
    Format("csl-json", "CSL-JSON", "application/vnd.citationstyles.csl+json; charset=utf-8", "json",
           exports.csl_json),
    Format("ohms", "OHMS XML", "application/xml; charset=utf-8", "ohms.xml", exports.ohms),
    Format("txt", N_("Transcript (plain text)"), "text/plain; charset=utf-8", "txt", _transcript),
    Format("vtt", N_("Timed transcript (WebVTT)"), "text/vtt; charset=utf-8", "vtt", _captions),
)}


def offered(story: ReleasedStory) -> list[Format]:
    """The formats this released story can be exported in (no transcript at level summary; a
    timed transcript only for a story that has one)."""
    present = {"txt": story.transcript is not None, "vtt": story.captions is not None}
    return [f for f in FORMATS.values() if present.get(f.name, True)]


def story_url(root_url: str, story_id: str) -> str:
    """A released story's public address under the archive's root URL."""
    return f"{root_url.rstrip('/')}/stories/{story_id}"


def citation(story: ReleasedStory, root_url: str) -> dict[str, object]:
    """A released story's citation as one CSL-JSON item (what the csl-json export holds)."""
    return exports.csl_item(story, story_url(root_url, story.id))


def render(archive: Archive, story_id: str, fmt: str, root_url: str) -> Export:
    """A released story in one format; NotFound for an unknown format or story, alike."""
    story = reading.released(archive, story_id)
    found = FORMATS.get(fmt)
    if found is None or found not in offered(story):
        raise NotFound("no such export")
    url = story_url(root_url, story.id)
    body = found.render(story, url)
    if body is None:  # offered() lists only what the story has; never an empty file instead
        raise NotFound("no such export")
    data = body.encode("utf-8") if isinstance(body, str) else body
    # content_hash covers the released fields; the release instant and the URL appear in
    # the exports too, so a re-release or another address is another version.
    version = "\0".join([EXPORT_VERSION, story.content_hash, format_instant(story.released_at), fmt, url])
    etag = hashlib.sha256(version.encode()).hexdigest()[:40]
    return Export(data, found.mimetype, f"{exports.citation_key(story)}.{found.extension}", etag)


# -- BagIt ----------------------------------------------------------------------------

STORIES = "stories"  # payload folder of the story files (data/stories/ in the bag)
METADATA_CSV = "metadata/metadata.csv"
DC_COLUMNS = ("dc.identifier", "dc.title", "dc.creator", "dc.contributor", "dc.date", "dc.description",
              "dc.subject", "dc.language", "dc.type", "dc.format", "dc.publisher", "dc.rights")


def bag(archive: Archive, path: Path, *, since: datetime | None = None, root_url: str | None = None) -> BagReport:
    """Write a BagIt bag of the released stories (those released at or after `since`) at PATH.

    PATH must not exist, or be an empty folder. Payload: data/stories/<id>.json (the released
    copy and its citation) and data/metadata/metadata.csv (Dublin Core, one row a story, a
    repeated element in repeated columns). bag-info.txt's Escrow-Taken-At is the instant after
    which a partner applies the OAI-PMH records (deletions) to what the bag holds.
    Without a root URL (ESCROW_BASE_URL unset) the files carry no web address. For the
    command line only: bagit.make_bag changes the process's working folder while it runs.
    """
    target = path.expanduser().absolute()
    _check_target(target)
    try:
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    except OSError:
        raise InvalidInput(f"cannot write in {target.parent}: nothing was written") from None
    # The instant the bag is taken from, read before the stories are: every takedown or release
    # stamped before it is in the bag, so a partner applies the OAI-PMH records stamped at or
    # after it (from=Escrow-Taken-At), deletions included, and misses none.
    taken = utcnow() - harvest.SETTLE
    try:
        count = _write_payload(archive, partial, since, root_url)
        info = {"Source-Organization": exports.ARCHIVE_NAME,
                "External-Description": (f"{count} oral-history stories released by the "
                                         f"{exports.ARCHIVE_NAME}, as released: each redacted at the level "
                                         "its narrator chose. One JSON file a story; Dublin Core "
                                         "in metadata/metadata.csv."),
                "Bagging-Date": datetime.now(UTC).strftime("%Y-%m-%d"),
                "Bag-Count": "1 of 1",
                "Escrow-Taken-At": format_instant(taken)}
        if since is not None:
            info["Released-Since"] = format_instant(since)
        bagit.make_bag(str(partial), info, processes=1, checksums=["sha256", "sha512"])
        with archive.unit() as unit:
            audit.record(unit.session, unit.keyring.audit_key, audit.SYSTEM, Action.EXPORT_BAG, None,
                         count=count, taken_at=format_instant(taken),
                         **({"since": format_instant(since)} if since is not None else {}))
            _place(partial, target)
            unit.on_rollback(lambda: shutil.rmtree(target, ignore_errors=True))  # placed, but not recorded
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # (moved away once placed)
        raise
    return BagReport(target, count)


def _check_target(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not (target.is_dir() and not any(target.iterdir()))):
        raise InvalidInput(f"{target} already exists and is not an empty folder: give a new path for the bag")
    if not target.parent.is_dir():
        raise InvalidInput(f"no folder {target.parent} to write the bag in")


def _place(partial: Path, target: Path) -> None:
    # rename() replaces an empty folder and refuses a non-empty one, atomically: a folder
    # filled meanwhile is never merged into nor overwritten.
    try:
        os.rename(partial, target)
    except OSError:
        raise InvalidInput(f"{target} was filled while the bag was written: nothing was written") from None


def _write_payload(archive: Archive, folder: Path, since: datetime | None, root_url: str | None) -> int:
    (folder / STORIES).mkdir()
    (folder / "metadata").mkdir()
    rows: list[tuple[str, dict[str, list[str]]]] = []
    # Since WHEN: released, or its released copy replaced, at or after it, as an OAI-PMH harvest
    # from WHEN would list it: a partner's older copy is then replaced too.
    for story in copies.since(archive.session, since):
        url = story_url(root_url, story.id) if root_url else None
        name = f"{STORIES}/{story.id}.json"
        (folder / name).write_text(json.dumps(_record(story, url), ensure_ascii=False, indent=2) + "\n",
                                   encoding="utf-8")
        # Archivematica's bag convention: filename is the path inside the bag, from data/.
        rows.append((f"data/{name}", _dublin_core(story, url)))
    # Archivematica reads columns of one name (dc.subject, dc.subject, ...) as the element
    # repeated: each value has a column of its own, as many of a name as the fullest row needs.
    widths = {column: max([1, *(len(values.get(column, [])) for _, values in rows)]) for column in DC_COLUMNS}
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\r\n")
    table.writerow(("filename", *(column for column in DC_COLUMNS for _ in range(widths[column]))))
    for filename, values in rows:
        cells = [_cell(value) for column in DC_COLUMNS
                 for value in _padded(values.get(column, []), widths[column])]
        table.writerow((filename, *cells))
    (folder / METADATA_CSV).write_text(out.getvalue(), encoding="utf-8", newline="")
    return len(rows)


def _padded(values: list[str], width: int) -> list[str]:
    return values + [""] * (width - len(values))


def _record(story: ReleasedStory, url: str | None) -> dict[str, object]:
    """One story's file: the released copy as the reading room holds it, and its citation."""
    return {"id": story.id, "url": url, "title": story.title, "narrator": story.narrator,
            "interviewer": story.interviewer, "interview_date": story.interview_date, "place": story.place,
            "language": story.language, "tags": story.tag_list, "summary": story.summary,
            "transcript": story.transcript, "redaction_level": story.redaction_level,
            "released_at": format_instant(story.released_at), "content_hash": story.content_hash,
            "citation": exports.csl_item(story, url)}


def _dublin_core(story: ReleasedStory, url: str | None) -> dict[str, list[str]]:
    """The story's Dublin Core (exports.dublin_core, as OAI-PMH's) and the format of its file
    in the bag: each column's values, in order, a repeated element's values each apart."""
    values: dict[str, list[str]] = {}
    for name, value in [*exports.dublin_core(story, url), ("format", "application/json")]:
        values.setdefault(f"dc.{name}", []).append(value)
    return values


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run: an archivist may open metadata.csv in one, and a
    released title like '=HYPERLINK(...)' would be a formula there. Such a cell starts with an
    apostrophe (OWASP's advice), which Archivematica keeps as text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
