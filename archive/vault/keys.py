"""The master key ring: key-encryption keys and audit HMAC keys, both versioned.

The ring lives outside the database, in a 0600 file in the instance folder or in
ESCROW_MASTER_KEY. Its text is tokens `auditN:BASE64` and `kekN:BASE64`, separated
by whitespace; lines starting with `#` are comments. A key file written before audit keys
had versions holds one `audit:BASE64`: that is audit key version 1. Only a one-way check
value of each key is stored in the database, so a wrong key is refused before anything is
written.

A rotation adds a master key and an audit key. The old master key leaves once no data key
needs it; old audit keys stay, because the entries chained under them can be verified with
nothing else (archive/audit.py: what an old audit key can and cannot do after the switch).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from archive.config import Config
from archive.errors import KeyProblem, NotInitialised
from archive.times import utcnow
from archive.vault import crypto
from archive.vault.models import KeyCheck, Recording, Story

_TOKEN = re.compile(r"^(audit|kek)([1-9][0-9]{0,5})?:(.*)$")
HEADER = (
    "# Escrow master key ring. Keep this file at mode 0600 and store it apart from\n"
    "# database backups: whoever holds both can read every sealed story.\n"
)


@dataclass(frozen=True)
class Keyring:
    """The archive's secrets; never printed, logged or stored in the database.

    `source`: where the ring was read from, read again when the audit log asks for an audit
    key this ring lacks (a rotation in another process added it after this one read the file).
    """

    keks: Mapping[int, bytes] = field(repr=False)
    audits: Mapping[int, bytes] = field(repr=False)
    source: Config | None = field(default=None, repr=False, compare=False)

    @property
    def current_version(self) -> int:
        """The master key version new data keys are wrapped under."""
        return max(self.keks)

    @property
    def audit_version(self) -> int:
        """The newest audit key version: the one the audit log switches to at a rotation."""
        return max(self.audits)

    @property
    def rotating(self) -> bool:
        """Whether a rotation is unfinished: it wrote the ring with its new keys and has not yet
        dropped the old master key (the audit log may not have switched yet)."""
        return len(self.keks) > 1

    def kek(self, version: int) -> bytes:
        """The master key of a version, or a clear error if the ring lacks it."""
        try:
            return self.keks[version]
        except KeyError:
            raise KeyProblem(f"the key ring has no master key version {version}") from None

    def audit_key(self, version: int) -> bytes:
        """The audit key of a version (archive/audit.py asks for the one its chain is under).

        A ring read before another process rotated lacks the new version: the key file is read
        again, once, before the answer is no.
        """
        if version not in self.audits and self.source is not None:
            fresh = load(self.source)
            if version in fresh.audits:
                return fresh.audits[version]
        try:
            return self.audits[version]
        except KeyError:
            raise KeyProblem(f"this key file lacks audit key version {version}, which the audit log is "
                             "chained under: copy the key file from the machine that rotated") from None

    def with_new_keys(self) -> Keyring:
        """A ring with one more, newer master key and audit key (for rotation)."""
        return Keyring({**self.keks, self.current_version + 1: crypto.new_key()},
                       {**self.audits, self.audit_version + 1: crypto.new_key()}, self.source)

    def only(self, versions: set[int]) -> Keyring:
        """A ring keeping only the given master key versions (after rotation); every audit key stays."""
        return Keyring({v: k for v, k in self.keks.items() if v in versions}, self.audits, self.source)

    def to_text(self) -> str:
        """The ring as key-file text."""
        lines = [f"audit{v}:{_b64(k)}" for v, k in sorted(self.audits.items())]
        lines += [f"kek{v}:{_b64(k)}" for v, k in sorted(self.keks.items())]
        return HEADER + "\n".join(lines) + "\n"


def generate() -> Keyring:
    """A new ring: master key version 1 and audit key version 1."""
    return Keyring({1: crypto.new_key()}, {1: crypto.new_key()})


def parse(text: str, source: str, *, origin: Config | None = None) -> Keyring:
    """Parse key-ring text; `source` names where it came from in error messages (`origin`: the
    configuration it was read with, for reading it again)."""
    found: dict[str, dict[int, bytes]] = {"audit": {}, "kek": {}}
    for token in _tokens(text):
        match = _TOKEN.match(token)
        if not match or (match.group(1) == "kek" and match.group(2) is None):
            raise KeyProblem(f"{source} is damaged: it holds an entry that is not 'auditN:' or 'kekN:'")
        kind = match.group(1)
        # `audit:` without a number: a key file from before audit keys had versions (version 1).
        version = int(match.group(2) or 1)
        name = f"{kind}{version}"
        if version in found[kind]:
            raise KeyProblem(f"{source} is damaged: it holds {name} twice")
        found[kind][version] = _decode(match.group(3), name, source)
    if not found["audit"] or not found["kek"]:
        missing = "audit key" if not found["audit"] else "master key (kekN)"
        raise KeyProblem(f"{source} is damaged or truncated: it has no {missing}")
    return Keyring(found["kek"], found["audit"], origin)


def _tokens(text: str) -> list[str]:
    return [t for line in text.splitlines() if not line.lstrip().startswith("#") for t in line.split()]


def _decode(value: str, name: str, source: str) -> bytes:
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != crypto.KEY_BYTES:
        raise KeyProblem(f"{source} is damaged or truncated: {name} is not a 32-byte base64 key")
    return key


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def check_file_mode(path: Path) -> None:
    """Refuse a key file that group or others could read or write."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyProblem(
            f"master key file {path} is open to group or others (mode {stat.S_IMODE(mode):04o}): "
            f"run 'chmod 600 {path}'"
        )


def load(config: Config) -> Keyring:
    """Read the ring from ESCROW_MASTER_KEY or the instance's key file."""
    if config.master_key is not None:
        return parse(config.master_key, "ESCROW_MASTER_KEY", origin=config)
    path = config.key_file
    check_file_mode(path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyProblem(
            f"master key file {path} is missing: restore it, set ESCROW_MASTER_KEY, "
            "or run 'escrow init' for a new archive"
        ) from None
    except (UnicodeDecodeError, OSError):
        raise KeyProblem(f"master key file {path} cannot be read as a key ring") from None
    return parse(text, f"master key file {path}", origin=config)


def write_file(path: Path, ring: Keyring, *, replace: bool = False) -> None:
    """Write the ring with mode 0600, atomically; never over an existing file unless replacing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.name + ".new") if replace else path
    if replace:
        target.unlink(missing_ok=True)  # left by a run killed before it could rename it
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(ring.to_text())
        handle.flush()
        os.fsync(handle.fileno())
    if replace:
        os.replace(target, path)


def _row(purpose: str, version: int) -> int:
    """The version a key's check value is stored (and labelled) under: audit key version 1 was
    registered as version 0 when audit keys had none, and stays there, so a database from before
    they had versions (a backup being restored, before it is migrated) checks the same."""
    return 0 if (purpose, version) == ("audit", 1) else version


def _digest(key: bytes, purpose: str, version: int) -> bytes:
    label = _row(purpose, version)
    return hmac.new(key, f"escrow key check v1|{purpose}|{label}".encode(), hashlib.sha256).digest()


def _ring_entries(ring: Keyring) -> list[tuple[str, int, bytes]]:
    return [("audit", v, k) for v, k in ring.audits.items()] + [("kek", v, k) for v, k in ring.keks.items()]


def is_registered(session: Session) -> bool:
    """Whether this database already belongs to a key ring."""
    return session.scalar(select(KeyCheck.purpose).limit(1)) is not None


def forget_unused(session: Session, ring: Keyring) -> None:
    """Drop check values of master and audit keys newer than the ring's, which no key file ever held.

    A rotation killed after registering its new keys but before writing the key file leaves
    such rows; the next rotation generates that version afresh and registers it again.
    A data key wrapped under such a version means the key file is older than the database.
    """
    newest = max((v for v in (session.scalar(select(func.max(Story.kek_version))),
                              session.scalar(select(func.max(Recording.kek_version)))) if v is not None),
                 default=None)
    if newest is not None and newest > ring.current_version:
        raise KeyProblem(f"data keys are wrapped under master key version {newest}, which this key "
                         "file lacks: restore the newer key file before rotating")
    newer = session.scalars(select(KeyCheck).where(or_(
        (KeyCheck.purpose == "kek") & (KeyCheck.version > ring.current_version),
        (KeyCheck.purpose == "audit") & (KeyCheck.version > ring.audit_version))))
    for check in newer:
        session.delete(check)
    session.flush()


def register(session: Session, ring: Keyring) -> None:
    """Store check values for every key of the ring that the database does not know yet."""
    known = {(c.purpose, c.version) for c in session.scalars(select(KeyCheck))}
    for purpose, version, key in _ring_entries(ring):
        if (purpose, _row(purpose, version)) not in known:
            session.add(KeyCheck(purpose=purpose, version=_row(purpose, version),
                                 digest=_digest(key, purpose, version), created_at=utcnow()))


def verify(session: Session, ring: Keyring) -> None:
    """Fail with a clear line unless every key of the ring is this archive's."""
    checks = {(c.purpose, c.version): c.digest for c in session.scalars(select(KeyCheck))}
    if not checks:
        raise NotInitialised("this archive's database has no keys registered: run 'escrow init'")
    for purpose, version, key in _ring_entries(ring):
        expected = checks.get((purpose, _row(purpose, version)))
        name = f"audit key version {version}" if purpose == "audit" else f"master key version {version}"
        if expected is None:
            raise KeyProblem(f"the {name} is not known to this archive: wrong key ring?")
        if not hmac.compare_digest(expected, _digest(key, purpose, version)):
            raise KeyProblem(f"the {name} does not match this archive: wrong key ring?")


def require_newest(session: Session, ring: Keyring) -> None:
    """Refuse to wrap new data keys with a ring older than the archive's newest master key.

    Another machine rotated and this one's key file was not updated yet (or a rotation was
    interrupted here after registering its new key): a story sealed now would be wrapped
    under a key the rotation is retiring.
    """
    newest = newest_version(session)
    if newest is not None and newest > ring.current_version:
        raise KeyProblem(f"this key file lacks master key version {newest}, which the archive already has: "
                         "copy the key file from the machine that rotated, or finish an interrupted "
                         "rotation here with 'escrow keys rotate'")


def unlock(session: Session, config: Config) -> Keyring:
    """Load the ring and check it belongs to this archive's database."""
    ring = load(config)
    verify(session, ring)
    return ring


def signing_secret(ring: Keyring) -> bytes:
    """The web's signing key (session cookies, CSRF tokens, OAI-PMH resumption tokens), derived
    from the newest master key, so that a rotation changes it: a key file taken before a
    rotation signs nothing the archive accepts after it.

    Every web node holding the same ring signs and accepts the same tokens, and no second
    secret file has to be kept and backed up. HKDF with its own label keeps it apart from the
    master key's one use, wrapping data keys.
    """
    return HKDF(algorithm=hashes.SHA256(), length=crypto.KEY_BYTES, salt=None,
                info=b"escrow web signing v2").derive(ring.kek(ring.current_version))


def newest_version(session: Session) -> int | None:
    """The newest master key version the archive has registered (None before `escrow init`)."""
    return session.scalar(select(func.max(KeyCheck.version)).where(KeyCheck.purpose == "kek"))


@dataclass(frozen=True)
class Signing:
    """The web's signing key and the master key version it comes from."""

    version: int
    secret: bytes = field(repr=False)


class SigningKeys:
    """A process's source of the web signing key, read again whenever the key file changes.

    A rotation replaces the key file (a new inode); every serving process sees it at its
    next request, with one stat() a request and no restart, and from then on refuses what
    the old key signed. Thread-safe: a reload is a whole new value, swapped in at once.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._seen: tuple[object, Signing | None] = (None, None)

    def current(self) -> Signing | None:
        """The signing key of the ring as it is now; None while there is no usable ring."""
        if self._config.master_key is not None:
            stamp: object = "environment"
        else:
            try:
                found = os.stat(self._config.key_file)
            except OSError:
                return None
            stamp = (found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size, found.st_mode)
        seen, signing = self._seen
        if seen == stamp:
            return signing
        with self._lock:
            try:
                ring = load(self._config)
                signing = Signing(ring.current_version, signing_secret(ring))
            except KeyProblem:
                signing = None  # missing, damaged or open to others: nothing is signed or accepted
            self._seen = (stamp, signing)
        return signing
