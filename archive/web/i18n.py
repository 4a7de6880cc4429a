"""The interface's language: English or Spanish, chosen per visitor, and everything the pages say
translated through one catalogue (archive/translations, compiled into the wheel).

The language is, in order: a `?lang=` on any page (the switch in every page's header; the
choice is kept in the session, and survives signing in and out), the choice kept in the
session, the browser's weighted Accept-Language, then English. A story's own text is never
translated: it carries its own language (`lang` on its elements), and its stand-ins were
chosen in that language when it was released.

The services' messages reach a page as `archive.messages.Message`s (English until here);
`translated` gives them in the interface's language. The command line does not come here:
it is the operator's door, in English.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from babel import Locale
from babel.dates import format_skeleton, get_datetime_format
from flask import Flask, request, session, url_for
from flask_babel import Babel, format_decimal, get_locale, gettext, ngettext
from werkzeug.wrappers import Response

from archive.messages import HOLD_NAMES, LEVEL_NAMES, NARRATOR_ACTIONS, ROLE_NAMES, STATUS_NAMES, Message
from archive.storage.paths import TRANSLATIONS

LANGUAGES = ("en", "es")  # the interface's languages; the first is the default
CHOSEN = "lang"  # the session's key for the visitor's choice
babel = Babel()


def init_app(app: Flask) -> None:
    """Wire the catalogue, the language choice and the Jinja helpers into the app."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, default_locale=LANGUAGES[0], locale_selector=language)
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # as babel.cfg extracts {% trans %} blocks
    app.before_request(_keep_choice)
    app.after_request(_vary)
    app.jinja_env.filters["language_name"] = language_name
    app.jinja_env.filters["number"] = number
    app.jinja_env.globals.update(interface_language=interface_language, switch_url=switch_url,
                                 languages=LANGUAGES, translated=translated, named=named,
                                 status_names=STATUS_NAMES, level_names=LEVEL_NAMES, role_names=ROLE_NAMES,
                                 narrator_actions=NARRATOR_ACTIONS, hold_names=HOLD_NAMES)


def _asked() -> str | None:
    asked = request.args.get(CHOSEN, "")
    return asked if asked in LANGUAGES else None


def language() -> str:
    """The interface language of this request (Flask-Babel's locale selector)."""
    chosen = _asked() or session.get(CHOSEN)
    if chosen in LANGUAGES:
        return str(chosen)
    # By weight, a regional tag counting for its language (es-MX;q=0.9 before en;q=0.5: werkzeug's
    # best_match prefers any exact match, however light, to a regional one).
    for tag, quality in request.accept_languages:  # heaviest first
        primary = tag.split("-")[0].split("_")[0].lower()
        if quality > 0 and primary in LANGUAGES:
            return primary
    return LANGUAGES[0]


def interface_language() -> str:
    """The language the page is written in, as a BCP 47 tag for <html lang>."""
    return str(get_locale() or LANGUAGES[0])


def _keep_choice() -> None:
    """A `?lang=` is remembered for the visitor's next pages (where sessions exist yet)."""
    asked = _asked()
    if asked is not None and session.get(CHOSEN) != asked:
        try:
            session[CHOSEN] = asked
        except RuntimeError:  # no session secret before `escrow init`: this page only
            pass


def clear_session() -> None:
    """Empty the session (signing in or out) but keep the visitor's language."""
    kept = session.get(CHOSEN)
    session.clear()
    if kept in LANGUAGES:
        session[CHOSEN] = kept


def _vary(response: Response) -> Response:
    response.vary.add("Accept-Language")
    return response


def switch_url(lang: str, stay: bool = True) -> str:
    """This page in another language: the same address with `lang`, for a page a GET shows;
    after a form's POST, and on an error page (`stay` false: a sealed story's 404 is the same,
    byte for byte, as an unknown id's), the reading room."""
    if not stay or request.method != "GET" or request.endpoint is None or request.endpoint == "static":
        return url_for("reading.search", lang=lang)
    # Never a query argument url_for would read as its own (_scheme=javascript, _external: an
    # address of the visitor's choosing in a link on the page).
    asked = {k: v for k, v in request.args.items() if not k.startswith("_")}
    return url_for(request.endpoint, **{**asked, **(request.view_args or {}), CHOSEN: lang})


def language_name(code: str | None) -> str:
    """A language code (en, es, pt-BR) as the language's name in the interface's language
    ("Spanish", "español"); the code itself when Babel does not know it."""
    if not code:
        return ""
    here = Locale.parse(interface_language())
    primary, _, region = code.replace("_", "-").partition("-")
    name = here.languages.get(primary.lower())
    if name is None:
        return code
    if region:
        name = f"{name} ({here.territories.get(region.upper(), region)})"
    return name


def named(names: dict[str, str], code: str) -> str:
    """One of the archive's codes (a status, a level, a role) by its name in the interface's
    language; an unknown code as it is."""
    return gettext(names[code]) if code in names else code


def number(value: int | float) -> str:
    """A number as the interface's language writes it (1,234 or 1234 / 1.234)."""
    return str(format_decimal(value))


def translated(text: Any) -> str:
    """A service's message in the interface's language (its values too); any other text as it is."""
    if not isinstance(text, Message):
        return str(text)
    values = {name: _value(value) for name, value in text.values.items()}
    if text.plural is not None and text.count is not None:
        return str(ngettext(text.msgid, text.plural, text.count, **values))
    return str(gettext(text.msgid, **values))


def _value(value: Any) -> Any:
    if isinstance(value, Message):
        return translated(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value)
    return value


def said(error: BaseException) -> str:
    """What an error says, in the interface's language (a service's Message translated)."""
    first = error.args[0] if error.args else ""
    return translated(first) if isinstance(first, Message) else str(error)


def moment(instant: datetime, zone: Any = None) -> str:
    """An instant for a page: English keeps the archive's ISO form (2031-01-01 09:00), other
    languages their own (1 ene 2031, 9:00)."""
    at = instant.astimezone(zone or UTC)
    if interface_language() == LANGUAGES[0]:
        return f"{at:%Y-%m-%d %H:%M}"
    here = interface_language()
    date, time = format_skeleton("yMMMd", at, locale=here), format_skeleton("Hm", at, locale=here)
    return str(get_datetime_format("medium", locale=here)).format(time, date)
