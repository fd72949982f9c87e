"""The artefact store: atomic writes, the restricted/shareable layout, the run lock and the manifest.

Every file the pipeline writes goes through ``atomic_write_*``: the bytes land in a temporary file
in the same folder, are flushed to disk, then renamed over the target. A run killed at any moment
leaves either the old file or the new one, never half of one; stray temporary files (named
``.<name>.tmp-<pid>-<random>``) are removed by the next run, which holds the lock.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: the output lock goes through the filelock package
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

TMP_MARK = ".tmp-"
DIR_MODE = 0o700
FILE_MODE = 0o600
MANIFEST_VERSION = 1


class StoreError(RuntimeError):
    """Writing or reading the output folder failed; the message names the path and the reason."""


class LockedError(StoreError):
    """Another run holds the output folder."""


def _describe_os_error(e: OSError) -> str:
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.EROFS:
        return "read-only file system"
    return e.strerror or type(e).__name__


def ensure_dir(path: Path, mode: int = DIR_MODE) -> Path:
    """Create ``path`` and any missing parent with ``mode`` set explicitly (not from the umask)."""
    path = Path(path)
    if path.is_dir():
        return path
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(d, mode)
    if not path.is_dir():
        raise StoreError(f"{path}: not a folder")
    return path


OUTPUT_PARTS = ("shareable", "restricted", "logs")


def check_output_folder(out: str | Path) -> None:
    """Refuse an output folder that would put restricted material in the wrong place.

    - ``out`` inside another output folder's ``shareable/`` (the key and raw transcripts would land
      in the hand-over folder), ``restricted/`` or ``logs/``;
    - a symbolic link anywhere inside ``out`` (a link ``shareable/<id>`` -> ``restricted/<id>`` made
      a re-run write the pseudonymised transcript over the raw one): nothing is written through one.
    """
    out = Path(os.path.abspath(out))
    real = Path(os.path.realpath(out))
    for path in {out, real}:
        for parent in path.parents:
            if parent.name in OUTPUT_PARTS and (parent.parent / "manifest.json").is_file():
                raise StoreError(
                    f"{out}: inside the {parent.name}/ folder of another output folder "
                    f"({parent.parent}); choose an output folder outside it"
                )
    if not out.is_dir():
        return
    for root, dirs, files in os.walk(out):
        for name in dirs + files:
            p = Path(root) / name
            if p.is_symlink():
                raise StoreError(
                    f"{p}: a symbolic link inside the output folder; the pipeline never writes "
                    "through links there (remove it, or copy what it points to)"
                )


def atomic_write_bytes(path: str | Path, data: bytes, mode: int = FILE_MODE) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename)."""
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StoreError(f"{path}: could not write ({_describe_os_error(e)})") from e
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, mode: int = FILE_MODE) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(path: str | Path, obj: Any, mode: int = FILE_MODE) -> Path:
    return atomic_write_text(
        path, json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=False) + "\n", mode
    )


@contextlib.contextmanager
def atomic_path(path: str | Path, mode: int = FILE_MODE) -> Iterator[Path]:
    """For writers that need a file name (ffmpeg, python-docx): yield a temp path, rename on success."""
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}{TMP_MARK}{os.getpid()}-", dir=path.parent, suffix=path.suffix
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise StoreError(f"{path}: could not write ({_describe_os_error(e)})") from e
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


_TRANSLITERATE = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "œ": "oe",
        "Œ": "OE",
    }
)


def slugify(name: str) -> str:
    """A file-system and URL safe id from a file name: ASCII-folded, lower case, dashes."""
    name = name.translate(_TRANSLITERATE)
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug or "interview"


class Layout:
    """Where things live under an output folder.

    ``restricted/`` holds identifiable material (audio, raw transcripts, the key, redaction logs,
    review pages); ``shareable/`` holds what may be handed to coders.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)

    @property
    def restricted_root(self) -> Path:
        return self.out / "restricted"

    @property
    def shareable_root(self) -> Path:
        return self.out / "shareable"

    def restricted(self, interview_id: str) -> Path:
        return self.restricted_root / interview_id

    def shareable(self, interview_id: str) -> Path:
        return self.shareable_root / interview_id

    @property
    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    @property
    def lock_path(self) -> Path:
        return self.out / ".lock"

    @property
    def logs_dir(self) -> Path:
        return self.out / "logs"

    def create(self) -> None:
        """Create the folders (0700 whatever the umask); refuses links inside and nesting in another
        output folder (:func:`check_output_folder`)."""
        check_output_folder(self.out)
        for d in (self.out, self.restricted_root, self.shareable_root):
            ensure_dir(d)
        os.chmod(self.restricted_root, DIR_MODE)

    def remove_stale_temp_files(self) -> int:
        """Delete temp files left by a killed run. Call only while holding the lock."""
        removed = 0
        for p in self.out.rglob(f"*{TMP_MARK}*"):
            if p.is_file() and p.name.startswith("."):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed += 1
        if removed:
            logger.info("removed %d temporary file(s) left by an interrupted run", removed)
        return removed


class OutputLock:
    """An exclusive lock on an output folder, so two runs never write the same outputs.

    ``flock`` on ``OUT/.lock``, which holds the holder's pid (Linux, macOS); where there is no
    ``fcntl`` (Windows) the ``filelock`` package locks ``OUT/.lock`` and the pid goes to
    ``OUT/.lock.pid``. Either way the operating system releases the lock when the holder dies, even
    by SIGKILL, and a second lock on the same folder is refused, in another process or this one.
    """

    def __init__(self, out: str | Path):
        self.layout = Layout(out)
        self._fd: int | None = None
        self._portable: Any = None

    def _refuse(self, holder: str) -> LockedError:
        return LockedError(
            f"{self.layout.out}: another run (pid {holder or 'unknown'}) is writing this output folder; "
            "wait for it to finish or choose another --out"
        )

    def acquire(self) -> OutputLock:
        ensure_dir(self.layout.out)
        path = self.layout.lock_path
        if fcntl is None:
            return self._acquire_portable(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            raise self._refuse(holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def _acquire_portable(self, path: Path) -> OutputLock:
        import filelock

        lock = filelock.FileLock(str(path), timeout=0)
        pid_path = path.with_name(path.name + ".pid")
        try:
            lock.acquire()
        except filelock.Timeout:
            try:
                holder = pid_path.read_text(encoding="ascii").strip()
            except OSError:
                holder = ""
            raise self._refuse(holder) from None
        pid_path.write_text(str(os.getpid()), encoding="ascii")
        self._portable = lock
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._portable is not None:
            self._portable.release()
            self._portable = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class StageRecord:
    status: str  # "done" | "failed"
    input_hash: str
    config_hash: str
    outputs: dict[str, str] = field(default_factory=dict)  # path relative to OUT -> sha256
    seconds: float = 0.0
    finished_at: float = 0.0
    error: str | None = None


class Manifest:
    """Per interview and stage: status, input and config hashes, output hashes.

    Written only by the coordinating process (workers return results), always atomically.
    """

    def __init__(self, layout: Layout):
        self.layout = layout
        self.data: dict[str, Any] = {"manifest_version": MANIFEST_VERSION, "interviews": {}}

    @classmethod
    def load(cls, layout: Layout) -> Manifest:
        m = cls(layout)
        path = layout.manifest_path
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(data, dict) or "interviews" not in data:
                    raise ValueError("no 'interviews' key")
                m.data = data
            except (OSError, ValueError) as e:
                # A broken manifest only costs recomputation: every stage is redone.
                logger.warning("%s unreadable (%s); all stages will be checked again", path, type(e).__name__)
        return m

    def save(self) -> None:
        atomic_write_json(self.layout.manifest_path, self.data)

    @property
    def interviews(self) -> dict[str, Any]:
        return self.data["interviews"]

    def interview(self, interview_id: str) -> dict[str, Any]:
        return self.interviews.setdefault(interview_id, {"stages": {}})

    def id_for_source(self, source: str) -> str | None:
        for iid, rec in self.interviews.items():
            if rec.get("source") == source:
                return iid
        return None

    def stage(self, interview_id: str, stage: str) -> StageRecord | None:
        rec = self.interviews.get(interview_id, {}).get("stages", {}).get(stage)
        return StageRecord(**rec) if rec else None

    def set_stage(self, interview_id: str, stage: str, record: StageRecord) -> None:
        self.interview(interview_id)["stages"][stage] = record.__dict__.copy()

    def clear_stage(self, interview_id: str, stage: str) -> None:
        self.interviews.get(interview_id, {}).get("stages", {}).pop(stage, None)

    def is_fresh(self, interview_id: str, stage: str, input_hash: str, config_hash: str) -> bool:
        """True when the stage finished with these inputs and every output is intact on disk."""
        rec = self.stage(interview_id, stage)
        if rec is None or rec.status != "done":
            return False
        if rec.input_hash != input_hash or rec.config_hash != config_hash:
            return False
        for rel, digest in rec.outputs.items():
            p = self.layout.out / rel
            if not p.is_file() or sha256_file(p) != digest:
                logger.warning("%s: stage %s output changed or missing; redoing it", interview_id, stage)
                return False
        return True

    def record_outputs(self, paths: list[Path]) -> dict[str, str]:
        return {str(p.relative_to(self.layout.out)): sha256_file(p) for p in paths}


def now() -> float:
    return time.time()
