"""Exports of one released story: BibTeX, RIS, CSL-JSON, OHMS XML and its transcript.

Pure functions of a reading-room row (released, already redacted at the story's level) and
its public URL: nothing here reads the vault, and every field comes from the row as released.
No export here carries the interview's place, at any level: OHMS has no location, GPS or
place element and the citations no place (a place narrows down who spoke).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from lxml import etree

from archive.reading_room.models import ReleasedStory

ARCHIVE_NAME = "Escrow oral-history archive"
OHMS_VERSION = "5.4"  # pinned: tests/schemas/ohms/ohms.xsd is this version's schema
OHMS_NAMESPACE = "https://www.weareavp.com/nunncenter/ohms"

# BibTeX's special characters, each written so that LaTeX prints it and BibTeX's brace
# counting is never thrown off (no bare brace, no backslash that starts a command).
# Braces as commands, not \{ and \}: BibTeX counts every brace, escaped or not, so a title with
# one brace would leave its entry open.
_BIBTEX = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "%": r"\%",
           "&": r"\&", "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "$": r"\$"}
_SPACES = re.compile(r"\s+")
# Characters XML 1.0 cannot hold at all (lxml refuses them): C0 controls but tab, LF and CR;
# surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """The text without the characters XML 1.0 cannot hold (released text is cleaned of them,
    not refused: every XML door, OHMS and OAI-PMH alike, uses this)."""
    return _NOT_XML.sub("", text)


RIGHTS = {
    "full": "Released by the narrator's consent, in full.",
    "pseudonymized": "Released by the narrator's consent; people, organisations and places are "
                     "shown by stand-ins and the narrator by a pseudonym.",
    "redacted": "Released by the narrator's consent; names of people, organisations and places "
                "are removed and the narrator is anonymous.",
    "summary": "Released by the narrator's consent as a summary only; the transcript is not released.",
}


def dublin_core(story: ReleasedStory, url: str | None) -> list[tuple[str, str]]:
    """The released copy as Dublin Core elements, in order, repeatable ones repeated, empty ones
    left out: what OAI-PMH's oai_dc and the bag's metadata.csv both carry. Never the place; the
    date as released (the year only at the levels that hide the rest)."""
    elements = [("identifier", url or citation_key(story)), ("title", story.title), ("creator", story.narrator),
                ("contributor", story.interviewer), ("date", story.interview_date),
                ("description", story.summary), *(("subject", tag) for tag in story.tag_list),
                ("language", story.language), ("type", "Text"), ("type", "oral history"),
                ("publisher", ARCHIVE_NAME),
                ("rights", RIGHTS.get(story.redaction_level, "Released by the narrator's consent."))]
    return [(name, value) for name, value in elements if value]


@dataclass(frozen=True)
class Transcript:
    """A transcript export: its text, media type and file extension."""

    body: str
    mimetype: str
    extension: str


def one_line(text: str) -> str:
    """The text with every control character and line or paragraph break made a single space."""
    kept = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return _SPACES.sub(" ", kept).strip()


def bibtex_escape(text: str) -> str:
    """Text as a BibTeX field value: specials escaped, on one line."""
    return "".join(_BIBTEX.get(c, c) for c in one_line(text))


def bibtex_url(url: str) -> str:
    """A URL as BibTeX's url field: verbatim (the url and hyperref packages read it as is, so
    `\\_` or `\\textasciitilde{}` would break the link), less what would break the entry: braces,
    whitespace and control characters."""
    return "".join(c for c in url if c not in "{}" and not c.isspace() and unicodedata.category(c) != "Cc")


def bibtex(story: ReleasedStory, url: str | None) -> str:
    """A BibTeX @misc entry for the released story."""
    # Names and the title in an extra pair of braces: taken as written, never split at an
    # "and" nor re-cased (a released name may be a pseudonym like "Anonymous narrator").
    fields = [("author", "{" + bibtex_escape(story.narrator) + "}"),
              ("title", "{" + bibtex_escape(story.title) + "}")]
    if story.interview_year is not None:
        fields.append(("year", str(story.interview_year)))
    fields.append(("howpublished", bibtex_escape(f"Oral history interview, {ARCHIVE_NAME}")))
    by = f"Interviewed by {story.interviewer}. " if story.interviewer else ""
    fields.append(("note", bibtex_escape(by + _note(story))))
    if story.language:
        fields.append(("language", bibtex_escape(story.language)))
    if story.tag_list:
        fields.append(("keywords", bibtex_escape(", ".join(story.tag_list))))
    if url:
        fields.append(("url", bibtex_url(url)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(story)},\n{body}\n}}\n"


def ris(story: ReleasedStory, url: str | None) -> str:
    """An RIS record for the released story (a generic work of type 'Oral history interview')."""
    # GEN, not SOUND: what is released is a text; the recording (if any) stays in the vault.
    lines = [("TY", "GEN"), ("TI", story.title), ("AU", story.narrator)]
    if story.interviewer:
        lines.append(("A2", story.interviewer))
    if story.interview_year is not None:
        lines.append(("PY", str(story.interview_year)))
        lines.append(("DA", _ris_date(story.interview_date)))
    lines += [("M3", "Oral history interview"), ("PB", ARCHIVE_NAME), ("AB", story.summary),
              ("LA", story.language), *(("KW", tag) for tag in story.tag_list)]
    if url:
        lines.append(("UR", url))
    lines += [("N1", _note(story)), ("ID", citation_key(story))]
    written = [f"{tag}  - {one_line(value)}" for tag, value in lines if one_line(value)]
    return "\r\n".join([*written, "ER  - ", ""])


def csl_item(story: ReleasedStory, url: str | None) -> dict[str, object]:
    """The story as one CSL-JSON item (type interview)."""
    # Names as literals: a released name is shown as written, never parsed into given and family.
    item: dict[str, object] = {"id": citation_key(story), "type": "interview", "title": story.title,
                               "author": [{"literal": story.narrator}]}
    if story.interviewer:
        item["interviewer"] = [{"literal": story.interviewer}]
    parts = _date_parts(story.interview_date)
    if parts:
        item["issued"] = {"date-parts": [parts]}
    item.update({"publisher": ARCHIVE_NAME, "genre": "Oral history interview", "language": story.language,
                 "note": _note(story)})
    if story.summary:
        item["abstract"] = story.summary
    if story.tag_list:
        item["keyword"] = ", ".join(story.tag_list)
    if url:
        item["URL"] = url
    return item


def csl_json(story: ReleasedStory, url: str | None) -> str:
    """CSL-JSON: a list holding the story's one item."""
    return json.dumps([csl_item(story, url)], ensure_ascii=False, indent=2) + "\n"


def ohms(story: ReleasedStory, url: str | None) -> bytes:
    """An OHMS XML record (schema version 5.4), without any location, GPS or place element."""
    ns = "{" + OHMS_NAMESPACE + "}"
    root = etree.Element(ns + "ROOT", nsmap={None: OHMS_NAMESPACE})
    # The schema requires record/@id as an xs:int, a number OHMS assigns on import; our ids are
    # base32 strings, so id is 0 ("not assigned") and the story id travels in cms_record_id.
    # dt (xs:date, required) is the day this released copy was made.
    record = etree.SubElement(root, ns + "record", id="0", dt=f"{story.released_at:%Y-%m-%d}")

    def add(name: str, text: str | None = None, **attributes: str) -> None:
        element = etree.SubElement(record, ns + name, **attributes)
        if text is not None:
            element.text = xml_text(text)

    # Elements in the order the schema's sequence requires.
    add("version", OHMS_VERSION)
    date = _ohms_date(story.interview_date)
    add("date", **({"value": date[0], "format": date[1]} if date else {}))
    add("cms_record_id", story.id)
    add("title", story.title)
    add("repository", ARCHIVE_NAME)
    for tag in story.tag_list:
        add("keyword", tag)
    add("interviewee", story.narrator)
    if story.interviewer:
        add("interviewer", story.interviewer)
    if story.language:
        add("language", story.language)
    add("user_notes", _note(story) + (f" {url}" if url else ""))
    add("type", "Oral history interview")
    if story.summary:
        add("description", story.summary)
    if story.transcript is not None:
        add("transcript", story.transcript)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def transcript(story: ReleasedStory) -> Transcript | None:
    """The transcript as released, as plain text; None when the level released none. (A timed
    transcript is exported as the released WebVTT itself, `story.captions`.)"""
    if story.transcript is None:
        return None
    text = story.transcript if story.transcript.endswith("\n") else story.transcript + "\n"
    return Transcript(text, "text/plain; charset=utf-8", "txt")


def citation_key(story: ReleasedStory) -> str:
    """The story's key in citation files."""
    return f"escrow-{story.id}"


# -- helpers -----------------------------------------------------------------------

def _note(story: ReleasedStory) -> str:
    return f"Released {story.released_at:%Y-%m-%d}, {story.redaction_level} copy."


def _date_parts(date: str) -> list[int]:
    parts = date.split("-") if date else []
    return [int(p) for p in parts] if all(p.isdigit() for p in parts) else []


def _ris_date(date: str) -> str:
    parts = _date_parts(date)
    # RIS dates are YYYY/MM/DD/, with unknown parts left empty.
    padded = [f"{parts[0]:04d}", *(f"{p:02d}" for p in parts[1:])] + [""] * (3 - len(parts))
    return "/".join(padded) + "/"


def _ohms_date(date: str) -> tuple[str, str] | None:
    formats = {1: "yyyy", 2: "yyyy-mm", 3: "yyyy-mm-dd"}
    parts = _date_parts(date)
    return (date, formats[len(parts)]) if parts and len(parts) in formats else None
