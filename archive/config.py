"""The archive's configuration: a frozen value read once from the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.errors import InvalidInput

KEY_FILE_NAME = "master.key"
DATABASE_FILE_NAME = "escrow.db"


@dataclass(frozen=True)
class Config:
    """Where the archive lives and how it reaches its database and keys.

    `master_key` holds the text of ESCROW_MASTER_KEY when the key comes from the
    environment instead of the key file; it is never shown in a repr. `request_ttl` is how
    long an early-release request waits for a second admin (ESCROW_REQUEST_TTL_DAYS, 7).
    `proxy_hops` is how many reverse proxies in front may be trusted for the client's
    address and scheme (ESCROW_PROXY_HOPS, 0: none, so X-Forwarded-* is ignored).
    `index_sync_seconds` is how often, at most, a node compares its search index with the
    reading-room table before a search (ESCROW_INDEX_SYNC_SECONDS, 0: before every one, so
    every node's next search finds what any node released; a larger number saves that one query).
    `idle_minutes` ends a web session unused for that long (ESCROW_IDLE_MINUTES, 30); every
    session ends 8 hours after sign-in. `base_url` is the archive's public address
    (ESCROW_BASE_URL, e.g. https://archive.example.org): citations and links use it, and only
    its host is served (any other Host header gets 400); unset, only this machine's names
    (localhost, 127.0.0.1, ::1) are served and links use the request's own.
    `reading_room` is who may read released stories (ESCROW_READING_ROOM): 'public' (released
    by the narrators' consent) or 'signed-in' (accounts only, for access agreements).
    `contact_email` is the address harvesters are given to write to (ESCROW_CONTACT_EMAIL, the
    OAI-PMH adminEmail; unset, archive@ the public host): a role address, not a person's.
    `media_root` is the folder of sealed recordings (ESCROW_MEDIA_ROOT; a shared mount when
    several machines serve; unset, `media` in the instance folder), and `max_recording` the
    largest recording accepted, in bytes (ESCROW_MAX_RECORDING_MB, 2048); `account_recordings`
    the most bytes of recordings the stories of one account may hold (ESCROW_ACCOUNT_RECORDINGS_MB,
    20480), and `media_free` the space an upload must leave free on the media folder's disk
    (ESCROW_MEDIA_FREE_MB, 1024).
    `body_seconds` bounds how slowly a request may arrive (ESCROW_BODY_SECONDS, 20): its head
    within that time, and its body at least 64 KiB in every such stretch (archive/web/worker.py).
    `search_cache` is how much memory, in bytes, each process may keep of common words'
    postings for search (ESCROW_SEARCH_CACHE_MB, 64): numbers, never text.
    `search` is the reading room's search backend (ESCROW_SEARCH): 'whoosh' (each node's index
    in its instance folder), 'postgres' (shared by every node, in the database) or 'auto'
    (the default: PostgreSQL's when the database is PostgreSQL).
    `cooling_off` is how long a narrator's withdrawal of consent can be undone before the
    scheduled run destroys the story's data key (ESCROW_COOLING_OFF_DAYS, 14; 0: destroyed
    by the next run).
    `password_cost` names the argon2 parameters of new password hashes (ESCROW_PASSWORD_COST:
    'standard', or 'test' for the test suite only: `escrow serve` refuses it).
    """

    home: Path
    database_url: str
    master_key: str | None = field(default=None, repr=False)
    testing: bool = False
    request_ttl: timedelta = timedelta(days=7)
    cooling_off: timedelta = timedelta(days=14)
    proxy_hops: int = 0
    index_sync_seconds: int = 0
    password_cost: str = "standard"
    idle_minutes: int = 30
    base_url: str | None = None
    reading_room: str = "public"
    contact_email: str | None = None
    media_folder: Path | None = None
    max_recording: int = 2048 * 2**20
    search_cache: int = 64 * 2**20
    search: str = "auto"
    account_recordings: int = 20480 * 2**20
    media_free: int = 1024 * 2**20
    body_seconds: int = 20
    # ESCROW_SMTP_URL: where notices are sent by e-mail (archive/notices/mail.py says the form);
    # unset, notices are shown in the archive only. It may hold a password: never in a repr.
    smtp_url: str | None = field(default=None, repr=False)

    @property
    def media_root(self) -> Path:
        """The folder of sealed recordings."""
        return self.media_folder or self.home / "media"

    @property
    def key_file(self) -> Path:
        """The master key file in the instance folder (used when no env key is set)."""
        return self.home / KEY_FILE_NAME

    @classmethod
    def for_home(cls, home: Path, *, database_url: str | None = None, **overrides: Any) -> Config:
        """A config for an instance folder, with the SQLite default inside it."""
        home = home.expanduser().absolute()
        url = database_url or f"sqlite:///{home / DATABASE_FILE_NAME}"
        return cls(home=home, database_url=url, **overrides)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read ARCHIVE_HOME, DATABASE_URL, ESCROW_MASTER_KEY and ESCROW_REQUEST_TTL_DAYS."""
        env = os.environ if environ is None else environ
        return cls.for_home(
            Path(env.get("ARCHIVE_HOME") or "instance"),
            database_url=env.get("DATABASE_URL") or None,
            master_key=env.get("ESCROW_MASTER_KEY") or None,
            request_ttl=timedelta(days=_days(env.get("ESCROW_REQUEST_TTL_DAYS") or "7")),
            cooling_off=timedelta(days=_cooling(env.get("ESCROW_COOLING_OFF_DAYS") or "14")),
            proxy_hops=_hops(env.get("ESCROW_PROXY_HOPS") or "0"),
            index_sync_seconds=_sync_seconds(env.get("ESCROW_INDEX_SYNC_SECONDS") or "0"),
            password_cost=_cost(env.get("ESCROW_PASSWORD_COST") or "standard"),
            idle_minutes=_idle(env.get("ESCROW_IDLE_MINUTES") or "30"),
            base_url=_base_url(env.get("ESCROW_BASE_URL") or ""),
            reading_room=_reading_room(env.get("ESCROW_READING_ROOM") or "public"),
            contact_email=_contact(env.get("ESCROW_CONTACT_EMAIL") or ""),
            media_folder=_folder(env.get("ESCROW_MEDIA_ROOT") or ""),
            max_recording=_megabytes(env.get("ESCROW_MAX_RECORDING_MB") or "2048") * 2**20,
            search_cache=_megabytes(env.get("ESCROW_SEARCH_CACHE_MB") or "64", "ESCROW_SEARCH_CACHE_MB") * 2**20,
            search=_search(env.get("ESCROW_SEARCH") or "auto"),
            account_recordings=_megabytes(env.get("ESCROW_ACCOUNT_RECORDINGS_MB") or "20480",
                                          "ESCROW_ACCOUNT_RECORDINGS_MB") * 2**20,
            media_free=_megabytes(env.get("ESCROW_MEDIA_FREE_MB") or "1024", "ESCROW_MEDIA_FREE_MB", low=0) * 2**20,
            body_seconds=_body_seconds(env.get("ESCROW_BODY_SECONDS") or "20"),
            smtp_url=env.get("ESCROW_SMTP_URL") or None,
        )

    def to_flask(self) -> dict[str, Any]:
        """The settings Flask and its extensions read."""
        return {
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False},
            "TESTING": self.testing,
            "ESCROW_CONFIG": self,
            "ESCROW_IDLE_SECONDS": self.idle_minutes * 60,
            "ESCROW_HOSTS": self.trusted_hosts,
        }

    @property
    def trusted_hosts(self) -> list[str]:
        """The host names the web archive answers (web/hosts.py matches them as DNS does)."""
        if self.base_url is None:
            return ["localhost", "127.0.0.1", "[::1]"]
        host = urlsplit(self.base_url).hostname or ""
        return [f"[{host}]" if ":" in host else host]


def _contact(text: str) -> str | None:
    if text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise InvalidInput(f"ESCROW_CONTACT_EMAIL must be an email address, not {text[:60]!r}")
    return text or None


def _megabytes(text: str, name: str = "ESCROW_MAX_RECORDING_MB", low: int = 1) -> int:
    if not text.strip().isdigit() or not low <= int(text) <= 1_000_000:
        raise InvalidInput(f"{name} must be a whole number of MiB from {low} to 1000000, not {text[:20]!r}")
    return int(text)


def _body_seconds(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 3600:
        raise InvalidInput(f"ESCROW_BODY_SECONDS must be a number of seconds from 1 to 3600, not {text[:20]!r}")
    return int(text)


def _folder(text: str) -> Path | None:
    return Path(text).expanduser().absolute() if text.strip() else None


def _days(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 90:
        raise InvalidInput(f"ESCROW_REQUEST_TTL_DAYS must be a whole number of days from 1 to 90, not {text[:20]!r}")
    return int(text)


def _cooling(text: str) -> int:
    if not text.strip().isdigit() or not 0 <= int(text) <= 365:
        raise InvalidInput(f"ESCROW_COOLING_OFF_DAYS must be a whole number of days from 0 to 365, not {text[:20]!r}")
    return int(text)


def _hops(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 5:
        raise InvalidInput(f"ESCROW_PROXY_HOPS must be a number of proxies from 0 to 5, not {text[:20]!r}")
    return int(text)


def _sync_seconds(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 3600:
        raise InvalidInput(f"ESCROW_INDEX_SYNC_SECONDS must be a number of seconds from 0 to 3600, not {text[:20]!r}")
    return int(text)


def _cost(text: str) -> str:
    if text not in ("standard", "test"):
        raise InvalidInput("ESCROW_PASSWORD_COST must be 'standard' (or 'test', for the test suite only)")
    return text


def _idle(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 480:
        raise InvalidInput("ESCROW_IDLE_MINUTES must be a number of minutes from 1 to 480")
    return int(text)


def _base_url(text: str) -> str | None:
    value = text.strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidInput("ESCROW_BASE_URL must be the archive's address, like https://archive.example.org")
    return value


def _search(text: str) -> str:
    if text not in ("auto", "whoosh", "postgres"):
        raise InvalidInput("ESCROW_SEARCH must be 'auto', 'whoosh' or 'postgres'")
    return text


def _reading_room(text: str) -> str:
    if text not in ("public", "signed-in"):
        raise InvalidInput("ESCROW_READING_ROOM must be 'public' or 'signed-in'")
    return text
