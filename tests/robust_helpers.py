"""Shared helpers for the robustness tests (offline, faults, hostile input, no leaks).

- ``cli(...)``: ``python -m pipeline`` in a subprocess with a clean environment (no offline flags).
- ``write_network_guard(dir)``: a ``sitecustomize.py`` that every Python process started with that
  folder on ``PYTHONPATH`` imports first; its audit hook records (and refuses) every attempt to
  reach a non-loopback address, in the main process and in spawned workers alike.
- ``LeakScanner``: searches files (inside .docx/.qdpx zips too), logs and captured output for planted
  values, case-insensitively and on word boundaries, and counts the bytes it read.
- ``tree_digest`` / ``manifest_outputs``: compare output folders across runs.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
SAMPLES = REPO / "audio_samples"
TINY = ["--model", "tiny.en", "--no-progress"]
TMP_MARK = ".tmp-"

# Environment variables that would make a library offline by configuration. The pipeline must be
# offline without them, so the tests remove them.
OFFLINE_FLAGS = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
    "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS",
    "TLDEXTRACT_CACHE",
    "TLDEXTRACT_CACHE_TIMEOUT",
    "TLDEXTRACT_DEFAULT_FETCH_TIMEOUT",
    "HF_HOME",
    "XDG_CACHE_HOME",
    "TORCH_HOME",
    "PYTHONPATH",
)

# ---------------------------------------------------------------------------------------------
# Running the CLI


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without offline flags or caches; HOME is an empty folder."""
    env = {k: v for k, v in os.environ.items() if k not in OFFLINE_FLAGS and not k.startswith("PYTEST_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", OMP_WAIT_POLICY="PASSIVE")
    env.update(extra)
    return env


def cli(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    prefix: list[str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """``[prefix...] python -m pipeline ARGS`` from the repository root; output captured as text."""
    cmd = [*(prefix or []), sys.executable, "-m", "pipeline", *args]
    return subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def ffmpeg(*args: str) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def clip(src: Path, dest: Path, start: float, end: float | None = None, *opts: str) -> Path:
    """Cut ``src`` to [start, end] (re-encoded by extension), with extra ffmpeg output options."""
    cut = ["-ss", str(start)] + (["-to", str(end)] if end is not None else [])
    ffmpeg(*cut, "-i", str(src), *opts, str(dest))
    return dest


def sample(name: str) -> Path:
    p = SAMPLES / name
    if not p.is_file():
        pytest.skip(f"sample interview missing: {p}")
    return p


def short_batch(dest: Path) -> list[Path]:
    """Three short interviews cut from the samples (10-12 s each), with planted names, age, place,
    workplace, e-mail and phone number."""
    dest.mkdir(parents=True, exist_ok=True)
    one, two = sample("interview_01.mp3"), sample("interview_02.mp3")
    return [
        clip(one, dest / "k1.mp3", 10.4, 21.0),
        clip(two, dest / "k2.mp3", 10.3, 20.4),
        clip(one, dest / "k3.mp3", 86.0),
    ]


# ---------------------------------------------------------------------------------------------
# Output folders


def temp_files(root: Path) -> list[Path]:
    """Temporary files an atomic write leaves when it is killed (``.<name>.tmp-<pid>-<random>``)."""
    return sorted(p for p in root.rglob(f"*{TMP_MARK}*"))


def tree_digest(root: Path, under: str) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root/under``."""
    import hashlib

    base = root / under
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def manifest_outputs(out: Path) -> dict[str, str]:
    """Every output the manifest records (relative path -> sha256), all interviews and stages."""
    found: dict[str, str] = {}
    for rec in manifest(out)["interviews"].values():
        for st in rec.get("stages", {}).values():
            found.update(st.get("outputs") or {})
    return found


# ---------------------------------------------------------------------------------------------
# Network guard (an audit hook installed through sitecustomize in every Python process)

GUARD_SOURCE = r'''
"""Test network guard: records and refuses every non-loopback network attempt of this process."""
import ipaddress, json, os, socket, sys, traceback

_LOG = os.environ.get("NET_GUARD_LOG")
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
           "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo", "urllib.Request"}
_busy = False


def _local(host):
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]")
    if host in ("", "localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _target(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args[0], args[1]
        if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", -1) or not isinstance(address, tuple):
            return None  # a Unix socket or a pipe-like address: local by construction
        return None if _local(address[0]) else f"{address[0]}:{address[1]}"
    if event == "socket.getaddrinfo":
        return None if _local(args[0]) else f"{args[0]}:{args[1]}"
    if event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        return None if _local(args[0]) else str(args[0])
    if event == "socket.getnameinfo":
        sa = args[0]
        return None if isinstance(sa, tuple) and _local(sa[0]) else str(sa)
    if event == "urllib.Request":
        url = str(args[0])
        if url.startswith(("file:", "data:")):
            return None
        from urllib.parse import urlsplit
        return None if _local(urlsplit(url).hostname) else url
    return None


def _hook(event, args):
    global _busy
    if event not in _EVENTS or _busy:
        return
    try:
        target = _target(event, args)
    except Exception:  # never break the program under test because the guard misread an event
        target = f"unparsed {event}"
    if target is None:
        return
    _busy = True
    try:
        stack = [f"{os.path.basename(f.filename)}:{f.lineno}:{f.name}" for f in traceback.extract_stack()[-12:-2]]
        if _LOG:
            with open(_LOG, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"pid": os.getpid(), "event": event, "target": target, "stack": stack}) + "\n")
    finally:
        _busy = False
    raise OSError(101, f"network disabled by the test guard ({event} {target})")


sys.addaudithook(_hook)
if os.environ.get("NET_GUARD_LOADED"):  # proves the guard ran in this process (workers included)
    with open(os.environ["NET_GUARD_LOADED"], "a", encoding="utf-8") as _fh:
        _fh.write(f"{os.getpid()}\n")
'''


def write_network_guard(folder: Path) -> Path:
    """``folder/sitecustomize.py`` holding the guard; put ``folder`` first on PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(GUARD_SOURCE, encoding="utf-8")
    return folder


def guard_env(home: Path, guard_dir: Path, log: Path, loaded: Path) -> dict[str, str]:
    """A clean environment whose Python processes all start with the network guard."""
    return clean_env(
        home,
        PYTHONPATH=str(write_network_guard(guard_dir)),
        NET_GUARD_LOG=str(log),
        NET_GUARD_LOADED=str(loaded),
    )


def guarded_pids(loaded: Path) -> set[int]:
    return {int(x) for x in loaded.read_text().split()} if loaded.exists() else set()


def guard_attempts(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def can_unshare_net() -> str | None:
    """None when ``unshare -n`` works here, else the reason it does not."""
    if shutil.which("unshare") is None:
        return "unshare(1) not installed"
    try:
        p = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unshare -n failed to start ({e})"
    if p.returncode != 0:
        return f"unshare -n not permitted here (needs root or CAP_SYS_ADMIN): {p.stderr.strip()[:200]}"
    return None


# ---------------------------------------------------------------------------------------------
# Leak scanning

NUMERIC_UNIT = re.compile(r"^[\s\d.,:;+\-/eE]*$")
TIMESTAMP = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:\s*-->\s*\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
)
ZIP_SUFFIXES = {".docx", ".qdpx", ".zip", ".xlsx", ".odt"}
TEXT_SUFFIXES = {
    ".xml",
    ".qde",
    ".rels",
    ".html",
    ".htm",
    ".txt",
    ".json",
    ".csv",
    ".srt",
    ".vtt",
    ".log",
    ".css",
    ".js",
}


def planted_values(reference_files: Iterable[Path]) -> list[dict[str, Any]]:
    """The ``planted`` entries of the samples' reference files."""
    out: list[dict[str, Any]] = []
    for ref in reference_files:
        out += json.loads(Path(ref).read_text(encoding="utf-8"))["planted"]
    return out


def form_pattern(form: str) -> re.Pattern:
    """Case-insensitive, on word boundaries; a number must also not be part of a longer number
    ("42" is not found in "0.42" or "42.5", which are times, not the planted age)."""
    body = r"\s+".join(re.escape(part) for part in form.split())
    before = r"(?<!\w)" + (r"(?<!\d[.,:])" if form[:1].isdigit() else "")
    after = r"(?!\w)" + (r"(?![.,:]\d)" if form[-1:].isdigit() else "")
    return re.compile(before + body + after, re.IGNORECASE)


@dataclass
class Hit:
    where: str
    term: str
    context: str


@dataclass
class LeakScanner:
    """Searches text units for planted forms (and phone numbers by their digits).

    A *unit* is one string as a reader or a tool would see it: a JSON string, a CSV cell, an XML
    text node or attribute, a document's joined text, a line of a text file. Timestamps are removed
    from units first. Units that are only numbers (times, ids, sizes) are searched only for long
    digit strings (phone numbers), never for short numeric forms such as an age.
    """

    forms: list[str]
    digit_strings: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    bytes_scanned: int = 0
    files_scanned: int = 0
    units_scanned: int = 0

    def __post_init__(self) -> None:
        self.forms = sorted({f for f in self.forms if f.strip()})
        self._patterns = [(f, form_pattern(f)) for f in self.forms]

    @classmethod
    def for_planted(cls, planted: list[dict[str, Any]], extra: Iterable[str] = ()) -> LeakScanner:
        forms = [f for p in planted for f in p.get("forms", [p["value"]])] + list(extra)
        digits = [p["digits"] for p in planted if p.get("digits")]
        return cls(forms, digits)

    # -- units ------------------------------------------------------------------------------
    def scan_unit(self, where: str, text: str) -> None:
        self.units_scanned += 1
        numeric = bool(NUMERIC_UNIT.match(text))
        digits = re.sub(r"\D", "", text)
        for d in self.digit_strings:
            if d in digits:
                self.hits.append(Hit(where, d, "(digits)"))
        if numeric:
            return
        text = TIMESTAMP.sub(" ", text)
        for form, pat in self._patterns:
            m = pat.search(text)
            if m:
                ctx = text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
                self.hits.append(Hit(where, form, ctx))

    def scan_text(self, where: str, text: str, kind: str = "text") -> None:
        """Count the bytes of ``text`` and scan it as units of ``kind``."""
        self.bytes_scanned += len(text.encode("utf-8"))
        for unit in _units(text, kind):
            self.scan_unit(where, unit)

    # -- files ------------------------------------------------------------------------------
    def scan_bytes(self, where: str, data: bytes, suffix: str) -> None:
        suffix = suffix.lower()
        if suffix in ZIP_SUFFIXES or data[:4] == b"PK\x03\x04":
            self.bytes_scanned += len(data)
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    if info.is_dir():
                        continue
                    member = z.read(info)
                    self.scan_bytes(f"{where}!{info.filename}", member, Path(info.filename).suffix)
            return
        text = data.decode("utf-8", errors="replace")
        if suffix in (".json",):
            kind = "json"
        elif suffix in (".xml", ".qde", ".rels", ".html", ".htm") or text.lstrip().startswith("<?xml"):
            kind = "xml"
        elif suffix == ".csv":
            kind = "csv"
        elif suffix in (".srt", ".vtt"):
            kind = "subtitles"
        else:
            kind = "text"
        self.scan_text(where, text, kind)

    def scan_file(self, path: Path, label: str | None = None) -> None:
        self.files_scanned += 1
        self.scan_bytes(label or str(path), path.read_bytes(), path.suffix)

    def scan_tree(self, root: Path, base: Path | None = None) -> None:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                self.scan_file(p, str(p.relative_to(base or root)))


def _json_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _json_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_strings(v)


def _xml_units(text: str) -> Iterator[str]:
    from lxml import etree

    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(recover=True, huge_tree=True))
    except etree.XMLSyntaxError:
        root = None
    if root is None:  # HTML or damaged XML: fall back to the text with tags removed, and the raw text
        yield re.sub(r"<[^>]+>", " ", text)
        yield text
        return
    for el in root.iter():
        if isinstance(el.tag, str):
            yield from el.attrib.values()
        if el.text:
            yield el.text
        if el.tail:
            yield el.tail
    # a word split over several runs (<w:t>An</w:t><w:t>na</w:t>) is whole in the joined text
    yield "".join(root.itertext())
    yield " ".join(root.itertext())


def _units(text: str, kind: str) -> Iterator[str]:
    if kind == "json":
        try:
            yield from _json_strings(json.loads(text))
            return
        except json.JSONDecodeError:
            pass
    if kind == "xml":
        yield from _xml_units(text)
        return
    if kind == "csv":
        for row in csv.reader(io.StringIO(text)):
            yield from row
        return
    lines = text.splitlines()
    if kind == "subtitles":  # cue numbers are lines of digits before a timing line
        lines = [
            ln
            for i, ln in enumerate(lines)
            if not (ln.strip().isdigit() and i + 1 < len(lines) and "-->" in lines[i + 1])
        ]
    yield from lines
    yield "\n".join(lines)  # a value broken over two lines


def rss_mb(kb: int) -> float:
    return round(kb / 1024, 1)
