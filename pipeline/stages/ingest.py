"""Ingest: decode any recording ffmpeg reads into a normalised 16 kHz mono WAV.

ffmpeg and ffprobe are taken from PATH; where there is no ffmpeg on PATH, the one shipped inside the
``imageio-ffmpeg`` wheel is used (no download, no system package needed), and where there is no
ffprobe the file is probed with ffmpeg itself. The conversion streams through ffmpeg so memory stays
flat however long the recording is. The original channels are kept in a second
16 kHz WAV when there is more than one, so a later stage can tag speakers by channel.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
from pathlib import Path

import soundfile as sf

from pipeline.config import IngestConfig
from pipeline.schema import AudioInfo
from pipeline.store import StoreError, atomic_path, atomic_write_json, sha256_file

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
NORMALIZED_NAME = "audio.wav"
CHANNELS_NAME = "audio.channels.wav"
INFO_NAME = "ingest.json"
# A decoded length this much shorter than the container says means the file is cut off.
TRUNCATION_TOLERANCE = 0.90
MIN_DURATION_S = 0.05


class InputError(ValueError):
    """A source recording cannot be used; the message names the file and the reason in one line."""


def ffmpeg_tools() -> tuple[str, str | None, str]:
    """``(ffmpeg, ffprobe or None, where they come from)``: PATH first, else imageio-ffmpeg's binary."""
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path, shutil.which("ffprobe"), "PATH"
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe(), None, "imageio-ffmpeg"
    except (ImportError, RuntimeError) as e:
        raise InputError(
            "no ffmpeg found: none on PATH and the imageio-ffmpeg package has none "
            f"({type(e).__name__}); reinstall interview-pipeline or install ffmpeg"
        ) from e


def _ffmpeg() -> str:
    return ffmpeg_tools()[0]


def _probe(path: Path) -> dict:
    ffmpeg, ffprobe, _ = ffmpeg_tools()
    if ffprobe is None:
        return _probe_with_ffmpeg(path, ffmpeg)
    from pydub import AudioSegment
    from pydub.utils import mediainfo_json

    AudioSegment.converter, AudioSegment.ffprobe = ffmpeg, ffprobe  # pydub's own look-up warns
    try:
        info = mediainfo_json(str(path), read_ahead_limit=-1)
    except Exception as e:  # pydub raises bare exceptions and JSON errors for non-media files
        raise InputError(f"{path}: not an audio or video file ffmpeg can read ({type(e).__name__})") from e
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        raise InputError(f"{path}: no audio stream (not an audio or video file ffmpeg can read)")
    return {"format": info.get("format", {}), "stream": streams[0]}


_DURATION = re.compile(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")


def _probe_with_ffmpeg(path: Path, ffmpeg: str) -> dict:
    """ffprobe's answer without ffprobe: ffmpeg decodes a few ms of the first audio stream to a WAV
    on stdout (its header gives the channels and rate) and prints the container's duration."""
    args = [ffmpeg, "-nostdin", "-hide_banner", "-i", str(path), "-vn", "-map", "0:a:0", "-t", "0.05"]
    proc = subprocess.run([*args, "-f", "wav", "-"], capture_output=True, timeout=120, check=False)
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0 or not proc.stdout:
        if "matches no streams" in err:
            raise InputError(f"{path}: no audio stream (not an audio or video file ffmpeg can read)")
        raise InputError(
            f"{path}: not an audio or video file ffmpeg can read (exit status {proc.returncode})"
        )
    try:
        head = sf.info(io.BytesIO(proc.stdout))
    except RuntimeError as e:
        raise InputError(f"{path}: not an audio or video file ffmpeg can read ({type(e).__name__})") from e
    fmt = {}
    m = _DURATION.search(err)
    if m:
        fmt["duration"] = str(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))
    stream = {"codec_type": "audio", "channels": head.channels, "sample_rate": str(head.samplerate)}
    return {"format": fmt, "stream": stream}


def _declared_duration(probe: dict) -> float | None:
    for src in (probe["stream"], probe["format"]):
        try:
            d = float(src.get("duration"))
        except (TypeError, ValueError):
            continue
        if d > 0:
            return d
    return None


def convert(src: Path, dest: Path, channels: int | None, timeout: float) -> None:
    """Decode ``src`` with ffmpeg into a 16 kHz 16-bit WAV ``dest`` (``channels``: None keeps them).

    Raises ``InputError`` naming ``src`` (not decodable, too slow) or ``StoreError`` (disk full).
    """
    args = [
        _ffmpeg(),
        "-nostdin",
        "-hide_banner",
        "-v",
        "error",
        "-y",
        "-i",
        str(src),
        "-vn",
        "-map",
        "0:a:0",
    ]
    if channels is not None:
        args += ["-ac", str(channels)]
    args += ["-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(dest)]
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise InputError(f"{src}: decoding took longer than {timeout:.0f} s") from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace")
        if "No space left on device" in stderr:  # the output folder's disk, not the recording, is the problem
            raise StoreError(
                f"{dest.parent}: could not write the decoded audio (no space left on the device)"
            )
        # ffmpeg's first error line names the codec/container problem; it holds no audio content.
        reason = stderr.strip().splitlines()
        detail = reason[-1][:160] if reason else f"exit status {proc.returncode}"
        raise InputError(f"{src}: ffmpeg could not decode it ({detail})")


def run(source: str | Path, interview_id: str, interview_dir: Path, config: IngestConfig) -> AudioInfo:
    """Decode ``source`` into ``interview_dir`` and return what was learnt about it."""
    src = Path(source)
    if not src.exists():
        raise InputError(f"{src}: no such file")
    if not src.is_file():
        raise InputError(f"{src}: not a file")
    if src.stat().st_size == 0:
        raise InputError(f"{src}: empty file (0 bytes)")

    probe = _probe(src)
    channels = int(probe["stream"].get("channels") or 1)
    declared = _declared_duration(probe)

    normalized = interview_dir / NORMALIZED_NAME
    with atomic_path(normalized) as tmp:
        convert(src, tmp, 1, config.ffmpeg_timeout_s)
        frames = sf.info(str(tmp)).frames
    duration = frames / SAMPLE_RATE
    if duration < MIN_DURATION_S:
        normalized.unlink(missing_ok=True)
        raise InputError(f"{src}: no audio samples ({duration:.2f} s decoded)")
    if declared and duration < TRUNCATION_TOLERANCE * declared:
        normalized.unlink(missing_ok=True)
        raise InputError(
            f"{src}: truncated or damaged (decoded {duration:.1f} s of {declared:.1f} s declared)"
        )

    channels_rel = None
    channels_path = interview_dir / CHANNELS_NAME
    if channels > 1 and config.keep_channels:
        with atomic_path(channels_path) as tmp:
            convert(src, tmp, None, config.ffmpeg_timeout_s)
        channels_rel = CHANNELS_NAME
    else:
        channels_path.unlink(missing_ok=True)

    info = AudioInfo(
        interview_id=interview_id,
        source_path=str(src.resolve()),
        source_sha256=sha256_file(src),
        duration=round(duration, 3),
        sample_rate=int(probe["stream"].get("sample_rate") or 0),
        channels=channels,
        normalized_path=NORMALIZED_NAME,
        channels_path=channels_rel,
    )
    atomic_write_json(interview_dir / INFO_NAME, info.to_dict())
    logger.info("%s: ingested %.1f s, %d channel(s)", interview_id, duration, channels)
    return info


def output_paths(interview_dir: Path, info: AudioInfo) -> list[Path]:
    paths = [interview_dir / INFO_NAME, interview_dir / info.normalized_path]
    if info.channels_path:
        paths.append(interview_dir / info.channels_path)
    return paths
