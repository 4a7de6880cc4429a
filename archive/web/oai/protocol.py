"""The OAI-PMH 2.0 data provider (/oai): harvesters list the reading room's records.

Only what the reading room holds goes out: a released story as its released, redacted copy in
`oai_dc`; a story taken down or withdrawn after its release as a deleted header for ever
(`deletedRecord` persistent); a story never released nowhere, and the same `idDoesNotExist`
as a random identifier. Errors are protocol answers (HTTP 200), never a 5xx, and the request
element repeats only arguments this repository accepts: nothing a visitor typed that is not
one of its own identifiers, formats or dates comes back.

Harvest bound. A list is pinned, on its first request, to records stamped before
B = (start of the current second) - SETTLE, and every page of it answers with responseDate B,
which is the `from` of the harvester's next incremental harvest. So the lists [from, B) of one
harvest and [B, B') of the next are disjoint (nothing twice), and each record is in exactly one
of them: a story released (or taken back) while a harvest pages is stamped after B and waits
for the next one. That holds if a record stamped before B is committed by the time the first
page is read: the gate stamps a batch just before its commit, and SETTLE covers that moment
and a little clock difference between the machine that stamps and the one that answers.
A record that leaves the list while it is paged (taken down or released again: stamped past B)
is never sent twice nor lost: if nothing of the list is left when the harvester resumes, the
answer is badResumptionToken, asking it to harvest again from B, where that record is.
Datestamps are shown to the second; `from` counts from the start of its second (or day) and
`until` to its end, so a record listed at 10:00:00Z matches from=until=10:00:00Z.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import gettext
from flask_login import current_user
from lxml import etree

from archive.errors import NotFound
from archive.messages import N_
from archive.services import harvest, tokens
from archive.services.harvest import Entry
from archive.web import context
from archive.web.i18n import translated
from archive.web.oai import envelope, resumption
from archive.web.oai.envelope import Problem

bp = Blueprint("oai", __name__)

PREFIX = "oai_dc"
REPOSITORY_NAME = "Escrow oral-history archive"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # earliestDatestamp before the first release
LATEST = datetime.max.replace(tzinfo=UTC)
SETTLE = harvest.SETTLE  # see the module docstring
PAGE_SIZE = 100  # ESCROW_OAI_PAGE_SIZE overrides it

# verb -> (arguments it takes, arguments it requires unless a resumptionToken is given)
LIST_ARGUMENTS = frozenset({"metadataPrefix", "from", "until", "set", "resumptionToken"})
VERBS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Identify": (frozenset(), frozenset()),
    "ListMetadataFormats": (frozenset({"identifier"}), frozenset()),
    "ListSets": (frozenset({"resumptionToken"}), frozenset()),
    "GetRecord": (frozenset({"identifier", "metadataPrefix"}), frozenset({"identifier", "metadataPrefix"})),
    "ListIdentifiers": (LIST_ARGUMENTS, frozenset({"metadataPrefix"})),
    "ListRecords": (LIST_ARGUMENTS, frozenset({"metadataPrefix"})),
}
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SECOND = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@bp.route("/oai", methods=["GET", "POST"])
def endpoint() -> Response:
    """Answer one OAI-PMH request (GET, or POST form-encoded: the same)."""
    archive = context.archive()
    if archive.config.reading_room == "signed-in" and not (current_user.is_authenticated or _token_opens()):
        # An archive with access agreements is harvested by accounts only: a harvester sends
        # a personal API token (Authorization: Bearer), as the API takes it.
        return Response(gettext("Sign in, or send a personal API token, to harvest this archive.") + "\n", 401,
                        mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    now = resumption.now()
    try:
        verb, arguments = _arguments()
        response_date, echo, content = HANDLERS[verb](arguments, now)
    except Problem as problem:
        error = etree.Element(f"{{{envelope.OAI}}}error", code=problem.code)
        error.text = translated(problem.message)  # for a person reading the harvest's log (Accept-Language)
        return envelope.reply(problem.response_date or envelope.second(now), problem.echo, [error])
    return envelope.reply(response_date, echo, [content])


# -- requests ------------------------------------------------------------------------

def _arguments() -> tuple[str, dict[str, str]]:
    """The verb and its arguments, each checked against the verb's own; badVerb or badArgument."""
    items = list(request.args.items(multi=True))
    if request.method == "POST":
        items += list(request.form.items(multi=True)) + [(name, "") for name in request.files]
    verbs = [value for name, value in items if name == "verb"]
    if len(verbs) != 1 or verbs[0] not in VERBS:
        raise Problem("badVerb", N_("The verb argument is missing, repeated or not an OAI-PMH verb."))
    verb = verbs[0]
    takes, requires = VERBS[verb]
    arguments: dict[str, str] = {}
    for name, value in items:
        if name == "verb":
            continue
        if name not in takes:
            raise Problem("badArgument", N_("%(verb)s does not take one of the arguments given.", verb=verb))
        if name in arguments:
            raise Problem("badArgument", N_("An argument is repeated."))
        if not value:
            raise Problem("badArgument", N_("An argument is empty."))
        arguments[name] = value
    if "resumptionToken" in arguments:
        if len(arguments) > 1:
            raise Problem("badArgument", N_("resumptionToken is an exclusive argument: give it alone."))
    elif not requires <= arguments.keys():
        raise Problem("badArgument", N_("%(verb)s is missing a required argument.", verb=verb))
    return verb, arguments


def _format(arguments: dict[str, str], echo: dict[str, str]) -> None:
    if arguments["metadataPrefix"] != PREFIX:
        raise Problem("cannotDisseminateFormat", N_("The only metadata format here is oai_dc."), echo)


def _entry(identifier: str, echo: dict[str, str]) -> Entry:
    """The record an identifier names; one idDoesNotExist for every other identifier."""
    prefix = f"oai:{envelope.repository()}:"
    story_id = identifier[len(prefix):] if identifier.startswith(prefix) else ""
    try:
        if not resumption.STORY_ID.fullmatch(story_id):
            raise NotFound("not an identifier of this repository")
        return harvest.record(context.archive(), story_id)
    except NotFound:
        raise Problem("idDoesNotExist", N_("No record has this identifier."), echo) from None


def _dates(arguments: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """`from` as the start of its second or day, `until` as the instant just past its end."""
    since = until = None
    kinds = set()
    for name in ("from", "until"):
        text = arguments.get(name)
        if text is None:
            continue
        kind = "day" if DAY.fullmatch(text) else "second" if SECOND.fullmatch(text) else None
        try:
            if kind is None:
                raise ValueError(text)
            moment = datetime.strptime(text, "%Y-%m-%d" if kind == "day" else "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise Problem("badArgument", N_("Dates are YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ.")) from None
        kinds.add(kind)
        moment = moment.replace(tzinfo=UTC)
        if name == "from":
            since = moment
        else:
            step = timedelta(days=1) if kind == "day" else timedelta(seconds=1)
            until = moment + step if moment <= LATEST - step else LATEST
    if len(kinds) > 1:
        raise Problem("badArgument", N_("from and until must have the same granularity."))
    if since is not None and until is not None and since >= until:
        raise Problem("badArgument", N_("from is later than until."))
    return since, until


# -- verbs ---------------------------------------------------------------------------

Answer = tuple[datetime, dict[str, str], Any]


def _identify(arguments: dict[str, str], now: datetime) -> Answer:
    first = harvest.earliest(context.archive()) or EPOCH
    identify = etree.Element(f"{{{envelope.OAI}}}Identify")
    for name, value in (("repositoryName", REPOSITORY_NAME), ("baseURL", envelope.base_url()),
                        ("protocolVersion", "2.0"), ("adminEmail", _admin_email()),
                        ("earliestDatestamp", envelope.stamp(first)), ("deletedRecord", "persistent"),
                        ("granularity", "YYYY-MM-DDThh:mm:ssZ")):
        envelope.sub(identify, name, value)
    return envelope.second(now), {"verb": "Identify"}, identify


def _list_metadata_formats(arguments: dict[str, str], now: datetime) -> Answer:
    echo = {"verb": "ListMetadataFormats"}
    if "identifier" in arguments:
        entry = _entry(arguments["identifier"], echo)
        echo["identifier"] = arguments["identifier"]
        if entry.deleted:
            # A deleted record keeps its header, and nothing more: no format disseminates it.
            raise Problem("noMetadataFormats", N_("This record is deleted: no metadata is available for it."), echo)
    formats = etree.Element(f"{{{envelope.OAI}}}ListMetadataFormats")
    one = envelope.sub(formats, "metadataFormat")
    for name, value in (("metadataPrefix", PREFIX), ("schema", envelope.OAI_DC_SCHEMA),
                        ("metadataNamespace", envelope.OAI_DC)):
        envelope.sub(one, name, value)
    return envelope.second(now), echo, formats


def _list_sets(arguments: dict[str, str], now: datetime) -> Answer:
    echo = {"verb": "ListSets"}
    if "resumptionToken" in arguments:
        raise Problem("badResumptionToken", N_("This repository issues no resumption tokens for sets."), echo)
    raise Problem("noSetHierarchy", N_("This repository does not support sets."), echo)


def _get_record(arguments: dict[str, str], now: datetime) -> Answer:
    echo = {"verb": "GetRecord"}
    _format(arguments, echo)
    echo["metadataPrefix"] = PREFIX
    entry = _entry(arguments["identifier"], echo)
    echo = {"verb": "GetRecord", "identifier": arguments["identifier"], "metadataPrefix": PREFIX}
    found = etree.Element(f"{{{envelope.OAI}}}GetRecord")
    envelope.record(found, entry)
    return envelope.second(now), echo, found


def _list(verb: str, arguments: dict[str, str], now: datetime) -> Answer:
    if "resumptionToken" in arguments:
        window = resumption.load(verb, arguments["resumptionToken"])
        echo = {"verb": verb, "resumptionToken": arguments["resumptionToken"]}
    else:
        since, until = _dates(arguments)
        dates: dict[str, str] = {name: arguments[name] for name in ("from", "until") if name in arguments}
        _format(arguments, {"verb": verb, **dates})
        echo = {"verb": verb, "metadataPrefix": PREFIX, **dates}
        if "set" in arguments:
            raise Problem("noSetHierarchy", N_("This repository does not support sets."), echo)
        pinned = envelope.second(now) - SETTLE
        window = resumption.Window(since, min(until, pinned) if until is not None else pinned, pinned)
    size = _page_size()
    archive = context.archive()
    # One row past the page: a page carries a token only when a record really follows it, so
    # an unchanged list always ends with a page holding the empty token.
    entries = harvest.page(archive, since=window.since, before=window.before, after=window.after, limit=size + 1)
    if not entries and window.after is not None:
        # The records this token promised (the page before it peeked at one) have since been
        # taken down or released again: stamped past the harvest's bound, they are no longer
        # in this list. noRecordsMatch here would end the list without the empty token the
        # protocol requires; the harvester is told to start over from this harvest's bound,
        # where it finds them with their new datestamps (records, or deleted headers).
        raise Problem("badResumptionToken",
                       N_("This list changed after the harvest began: the records left to send were taken down "
                          "or released again since, and now carry later datestamps. Harvest again with "
                          "from=%(since)s (this harvest's responseDate) to receive them.",
                          since=envelope.stamp(window.pinned)),
                       {"verb": verb}, response_date=window.pinned)
    if not entries:
        raise Problem("noRecordsMatch", N_("No records match these arguments."), echo, response_date=window.pinned)
    more, entries = len(entries) > size, entries[:size]
    listing = etree.Element(f"{{{envelope.OAI}}}{verb}")
    for entry in entries:
        if verb == "ListRecords":
            envelope.record(listing, entry)
        else:
            envelope.header(listing, entry)
    if more or window.after is not None:
        # What was sent, and what is left to send now: a record taken down or released again
        # since the list began has left it (its datestamp is past the bound), and the size says so.
        total = window.cursor + harvest.count(archive, since=window.since, before=window.before, after=window.after)
        token = envelope.sub(listing, "resumptionToken", completeListSize=str(total), cursor=str(window.cursor))
        if more:
            last = entries[-1]
            following = resumption.Window(window.since, window.before, window.pinned, (last.datestamp, last.story_id),
                                window.cursor + len(entries), total)
            token.text = resumption.dump(verb, following)
            expires = envelope.second(now) + timedelta(seconds=resumption.token_seconds())
            token.set("expirationDate", envelope.stamp(expires))
    return window.pinned, echo, listing


HANDLERS: dict[str, Callable[[dict[str, str], datetime], Answer]] = {
    "Identify": _identify,
    "ListMetadataFormats": _list_metadata_formats,
    "ListSets": _list_sets,
    "GetRecord": _get_record,
    "ListIdentifiers": lambda arguments, now: _list("ListIdentifiers", arguments, now),
    "ListRecords": lambda arguments, now: _list("ListRecords", arguments, now),
}


def _token_opens() -> bool:
    secret = context.bearer()  # a wrong one counts as a failed sign-in, as on the API
    return bool(secret) and tokens.authenticate(context.archive(), secret or "",
                                                request.remote_addr or "unknown") is not None


def _page_size() -> int:
    size = current_app.config.get("ESCROW_OAI_PAGE_SIZE", PAGE_SIZE)
    return size if isinstance(size, int) and size > 0 else PAGE_SIZE


def _admin_email() -> str:
    # No account's address (that would name a person): the archive's own at its host. A host
    # without a dot (localhost) gets the reserved .invalid domain the schema's pattern needs.
    configured = context.archive().config.contact_email  # ESCROW_CONTACT_EMAIL
    if configured:
        return configured
    host = envelope.repository()
    return f"archive@{host}" if "." in host else f"archive@{host}.invalid"
