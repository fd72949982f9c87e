"""The project-wide re-identification key: (entity type, value) -> pseudonym, and people as clusters.

Restricted data: it maps pseudonyms back to original values. It lives only under ``restricted/``,
is written atomically with mode 0600 and, given a passphrase, encrypted with Fernet (AES-128-CBC +
HMAC) under a key derived with scrypt from the passphrase and a random salt stored in the file.
Nothing in this module logs a value; exceptions name the file only.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

logger = logging.getLogger(__name__)

KEY_FORMAT = "interview-pipeline-key"
KEY_VERSION = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


class KeyFileError(ValueError):
    """The key file cannot be read or written as asked; the message names the file, never a value."""


class KeyPassphraseError(KeyFileError):
    """Wrong or missing passphrase for an encrypted key (the key file is left untouched)."""


@dataclass
class Person:
    """One person: every name variant seen, one pseudonym for all of them."""

    pseudonym: str
    label: str
    n: int
    names: list[str] = field(default_factory=list)  # folded full names and single names, e.g. "anna jensen"
    first: list[str] = field(default_factory=list)  # folded first names ("anna")
    last: list[str] = field(default_factory=list)  # folded surnames ("jensen")
    originals: list[str] = field(default_factory=list)  # surface forms as written in transcripts
    interviews: list[str] = field(default_factory=list)
    surrogate: dict[str, str] = field(default_factory=dict)  # {"first": ..., "last": ...} in surrogate style


@dataclass
class Entry:
    """Any other replaced value: one pseudonym per (entity type, canonical value)."""

    entity_type: str
    canonical: str
    pseudonym: str
    label: str
    n: int
    originals: list[str] = field(default_factory=list)
    interviews: list[str] = field(default_factory=list)


def _add(values: list[str], value: str) -> None:
    if value and value not in values:
        values.append(value)


class PseudonymKey:
    """Consistent pseudonyms across a project; load, update through the engine, save."""

    def __init__(self, passphrase: str | None = None):
        if passphrase is not None and not passphrase.strip():
            # "" would silently mean "not encrypted" below: the caller asked for protection.
            raise KeyPassphraseError("an empty passphrase cannot protect the key; give one, or none")
        self.passphrase = passphrase
        self.counters: dict[str, int] = {}
        self.people: list[Person] = []
        self.entries: dict[tuple[str, str], Entry] = {}
        self._by_name: dict[str, Person] = {}
        self._salt: bytes | None = None
        self._fernet: Fernet | None = None
        self._lock = threading.RLock()

    # -- numbering -----------------------------------------------------------------------------
    def next_number(self, label: str) -> int:
        with self._lock:
            self.counters[label] = self.counters.get(label, 0) + 1
            return self.counters[label]

    # -- people --------------------------------------------------------------------------------
    def person_by_name(self, folded_name: str) -> Person | None:
        return self._by_name.get(folded_name)

    def people_with_part(self, folded_part: str) -> list[Person]:
        return [p for p in self.people if folded_part in p.first or folded_part in p.last]

    def new_person(self, pseudonym: str, label: str, n: int) -> Person:
        with self._lock:
            person = Person(pseudonym=pseudonym, label=label, n=n)
            self.people.append(person)
            return person

    def add_name(self, person: Person, folded_name: str, first: str | None, last: str | None) -> None:
        with self._lock:
            _add(person.names, folded_name)
            self._by_name.setdefault(folded_name, person)
            if first:
                _add(person.first, first)
            if last:
                _add(person.last, last)

    def note_use(self, record: Person | Entry, original: str, interview_id: str) -> None:
        with self._lock:
            _add(record.originals, original)
            _add(record.interviews, interview_id)

    # -- other entities ------------------------------------------------------------------------
    def entry(self, entity_type: str, canonical: str) -> Entry | None:
        return self.entries.get((entity_type, canonical))

    def new_entry(self, entity_type: str, canonical: str, pseudonym: str, label: str, n: int) -> Entry:
        with self._lock:
            e = Entry(entity_type=entity_type, canonical=canonical, pseudonym=pseudonym, label=label, n=n)
            self.entries[(entity_type, canonical)] = e
            return e

    def lookup(self, pseudonym: str) -> list[str]:
        """Original values behind a pseudonym (re-identification; restricted use)."""
        out: list[str] = []
        for p in self.people:
            if p.pseudonym == pseudonym or _surrogate_text(p) == pseudonym:
                out += p.originals
        for e in self.entries.values():
            if e.pseudonym == pseudonym:
                out += e.originals
        return out

    def __len__(self) -> int:
        return len(self.people) + len(self.entries)

    # -- persistence ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "people": [asdict(p) for p in self.people],
            "entries": [asdict(e) for e in self.entries.values()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], passphrase: str | None = None) -> PseudonymKey:
        key = cls(passphrase)
        key.counters = {str(k): int(v) for k, v in d.get("counters", {}).items()}
        for p in d.get("people", []):
            person = Person(**p)
            key.people.append(person)
            for name in person.names:
                key._by_name.setdefault(name, person)
        for e in d.get("entries", []):
            entry = Entry(**e)
            key.entries[(entry.entity_type, entry.canonical)] = entry
        return key

    @classmethod
    def load(cls, path: Path, passphrase: str | None = None) -> PseudonymKey:
        """The key at ``path``; a new empty key when the file does not exist yet."""
        path = Path(path)
        if not path.exists():
            logger.info(
                "key %s: new project key (%s)", path.name, "encrypted" if passphrase else "not encrypted"
            )
            return cls(passphrase)
        wrapper = _read_wrapper(path)
        if not wrapper.get("encrypted"):
            key = cls._from_payload(path, wrapper.get("key"), passphrase)
            logger.info("key %s: loaded %d record(s)", path.name, len(key))
            return key
        if not passphrase:
            raise KeyPassphraseError(f"{path}: the key is encrypted; a passphrase is needed to use it")
        salt, fernet = _derive(wrapper, passphrase, path)
        try:
            plain = fernet.decrypt(str(wrapper.get("ciphertext", "")).encode("ascii"))
        except (InvalidToken, ValueError) as e:
            raise KeyPassphraseError(
                f"{path}: wrong passphrase for the encrypted key (the key was not changed)"
            ) from e
        key = cls._from_payload(path, json.loads(plain.decode("utf-8")), passphrase)
        key._salt, key._fernet = salt, fernet
        logger.info("key %s: loaded %d record(s) (encrypted)", path.name, len(key))
        return key

    @classmethod
    def _from_payload(cls, path: Path, payload: Any, passphrase: str | None) -> PseudonymKey:
        if not isinstance(payload, dict):
            raise KeyFileError(f"{path}: not a pseudonym key (no key data)")
        try:
            return cls.from_dict(payload, passphrase)
        except (TypeError, ValueError, KeyError) as e:
            raise KeyFileError(f"{path}: malformed pseudonym key ({type(e).__name__})") from e

    def save(self, path: Path) -> None:
        """Write atomically, mode 0600; encrypted when the key has a passphrase.

        Refuses (KeyPassphraseError) to replace an encrypted key file that this key's passphrase
        cannot open, so a wrong or missing passphrase never overwrites a key.
        """
        from pipeline.store import atomic_write_json

        path = Path(path)
        with self._lock:
            self._check_overwrite(path)
            payload = self.to_dict()
            if self.passphrase:
                if self._fernet is None:
                    self._salt = os.urandom(16)
                    self._fernet = _fernet(self.passphrase, self._salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
                token = self._fernet.encrypt(json.dumps(payload, ensure_ascii=False).encode("utf-8"))
                wrapper = {
                    "format": KEY_FORMAT,
                    "version": KEY_VERSION,
                    "encrypted": True,
                    "kdf": {
                        "name": "scrypt",
                        "n": SCRYPT_N,
                        "r": SCRYPT_R,
                        "p": SCRYPT_P,
                        "salt": base64.b64encode(self._salt).decode("ascii"),
                    },
                    "cipher": "fernet",
                    "ciphertext": token.decode("ascii"),
                }
            else:
                wrapper = {"format": KEY_FORMAT, "version": KEY_VERSION, "encrypted": False, "key": payload}
            atomic_write_json(path, wrapper, mode=0o600)
        logger.info(
            "key %s: saved %d record(s)%s", path.name, len(self), " (encrypted)" if self.passphrase else ""
        )

    def _check_overwrite(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            wrapper = _read_wrapper(path)
        except KeyFileError:
            raise
        if not wrapper.get("encrypted"):
            return
        if not self.passphrase:
            raise KeyPassphraseError(
                f"{path}: the existing key is encrypted; refusing to replace it without its passphrase"
            )
        _, fernet = _derive(wrapper, self.passphrase, path)
        try:
            fernet.decrypt(str(wrapper.get("ciphertext", "")).encode("ascii"))
        except (InvalidToken, ValueError) as e:
            raise KeyPassphraseError(
                f"{path}: wrong passphrase for the existing encrypted key (it was not replaced)"
            ) from e


def _surrogate_text(p: Person) -> str:
    return " ".join(v for v in (p.surrogate.get("first"), p.surrogate.get("last")) if v)


def _read_wrapper(path: Path) -> dict[str, Any]:
    try:
        wrapper = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KeyFileError(f"{path}: not a readable key file ({type(e).__name__})") from e
    if not isinstance(wrapper, dict) or wrapper.get("format") != KEY_FORMAT:
        raise KeyFileError(f"{path}: not a pseudonym key file of this pipeline")
    if wrapper.get("version") != KEY_VERSION:
        raise KeyFileError(f"{path}: unsupported key version {wrapper.get('version')!r}")
    return wrapper


def _derive(wrapper: dict[str, Any], passphrase: str, path: Path) -> tuple[bytes, Fernet]:
    kdf = wrapper.get("kdf") or {}
    try:
        salt = base64.b64decode(kdf["salt"])
        return salt, _fernet(passphrase, salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    except (KeyError, TypeError, ValueError) as e:
        raise KeyFileError(f"{path}: encrypted key without valid KDF parameters") from e


def _fernet(passphrase: str, salt: bytes, n: int, r: int, p: int) -> Fernet:
    raw = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(raw))


def random_passphrase() -> str:
    """A strong passphrase suggestion (for docs and tests)."""
    return secrets.token_urlsafe(24)
