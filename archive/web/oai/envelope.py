"""The OAI-PMH envelope: the answer's XML (request echo, records, headers, oai_dc), its error
answer, and the addresses and stamps every answer carries."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Response, request
from lxml import etree

from archive.services import exports
from archive.services.harvest import Entry, ReleasedStory
from archive.web import context

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"


class Problem(Exception):
    """An OAI-PMH error answer: its code, a fixed message and the arguments to repeat."""

    def __init__(self, code: str, message: str, echo: dict[str, str] | None = None,
                 response_date: datetime | None = None) -> None:
        super().__init__(code)
        self.code, self.message, self.echo, self.response_date = code, message, echo or {}, response_date


def header(parent: etree._Element, entry: Entry) -> None:
    header = sub(parent, "header")
    if entry.deleted:
        header.set("status", "deleted")
    sub(header, "identifier", f"oai:{repository()}:{entry.story_id}")
    sub(header, "datestamp", stamp(entry.datestamp))


def record(parent: etree._Element, entry: Entry) -> None:
    """A record: its header, and oai_dc metadata while it is released (none once deleted)."""
    record = sub(parent, "record")
    header(record, entry)
    if entry.story is not None:
        sub(record, "metadata").append(_dublin_core(entry.story))


def _dublin_core(story: ReleasedStory) -> etree._Element:
    """oai_dc from the released copy only (exports.dublin_core, as the bag's metadata.csv)."""
    dc = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    dc.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {OAI_DC_SCHEMA}")
    for name, value in exports.dublin_core(story, f"{root()}/stories/{story.id}"):
        text = exports.xml_text(value).strip()
        if text:
            etree.SubElement(dc, f"{{{DC}}}{name}").text = text
    return dc


def reply(response_date: datetime, echo: dict[str, str], content: list[etree._Element]) -> Response:
    root = etree.Element(f"{{{OAI}}}OAI-PMH", nsmap={None: OAI, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI} {OAI_SCHEMA}")
    sub(root, "responseDate", stamp(response_date))
    sub(root, "request", base_url(), **echo)
    root.extend(content)
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Response(body, 200, mimetype="text/xml")


def sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{OAI}}}{name}", attributes)
    element.text = text
    return element


def stamp(moment: datetime) -> str:
    """An instant at the declared granularity (seconds, UTC)."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}Z"


def second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def root() -> str:
    # The configured public address; unset, the request's own (its Host is one of localhost's).
    return context.archive().config.base_url or request.url_root.rstrip("/")


def base_url() -> str:
    return root() + "/oai"


def repository() -> str:
    """The repository identifier in oai:<repository>:<story id>: the public host, or localhost."""
    base = context.archive().config.base_url
    return (urlsplit(base).hostname if base else None) or "localhost"
