"""Peak memory and time of the audio stages on long recordings: does memory stay flat with length?

    python bench/bench_long_audio.py       # speech 10 min (windowed and one pass), 1 h, 2 h; sparse 10 min, 3 h
    python bench/bench_long_audio.py --cases speech:10,speech:10:inf --stages ingest,transcribe

A case is ``content:minutes[:window_seconds]``; the window defaults to the stage's
``WINDOW_SECONDS`` (600 s), ``inf`` decodes the file in one pass, as the stage did before windows.
Inputs are built in seconds without re-encoding: the sample interviews' MP3 frames (24 kHz mono,
48 kbit/s) are concatenated with ffmpeg's concat demuxer (``-c copy``) until the length is reached
("speech"), or 10-minute blocks of silence with one 10 s speech clip in the middle ("sparse", the
3-hours-of-silence case). Each stage runs in its own fresh process, reading what the previous
stage wrote, so every figure belongs to one stage:

* ``rss_after_imports_mb``: the process before the stage starts (libraries imported);
* ``peak_rss_mb``: the process's own peak (``VmHWM``), including model loading;
* ``peak_rss_sampled_mb``: the parent's 0.1 s samples of the process plus its children (ffmpeg);
  ``rss_timeline_mb``: the largest of those samples in each ``--timeline-s`` stretch of the run,
  which shows whether memory climbs while a long file is decoded window after window.
  (``RUSAGE_CHILDREN`` is not used: a forked child's peak includes the parent's pages before exec.)
* transcribe: ``windows``, and ``rtf`` = stage seconds (model load included) / audio seconds.

A stage that runs past ``--limit-s`` is stopped and reported with ``"completed": false``; its peak
is then the peak up to that moment. Results go to ``bench/results/long_audio.json`` with the
machine's load average, since other work on a shared machine changes the timings (not the memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLES = ROOT / "audio_samples"
STAGES = ("ingest", "transcribe", "speakers")


# ---------------------------------------------------------------------------------------------
# Inputs


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def _concat(parts: list[Path], dest: Path) -> Path:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in parts), encoding="utf-8")
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(dest))
    listing.unlink()
    return dest


def make_input(content: str, minutes: float, work: Path) -> Path:
    """An MP3 of ``minutes``: looped sample interviews ("speech") or silence with 10 s of speech ("sparse")."""
    samples = sorted(SAMPLES.glob("interview_*.mp3"))
    if not samples:
        raise SystemExit(f"no sample interviews in {SAMPLES}")
    dest = work / f"{content}-{minutes:g}min.mp3"
    if content == "speech":
        per = 100.0  # the samples are 98-102 s each
        n = max(1, round(minutes * 60 / per))
        return _concat([samples[i % len(samples)] for i in range(n)], dest)
    block = work / "silence-10min.mp3"
    if not block.exists():
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=24000:cl=mono",
            "-t",
            "600",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "48k",
            str(block),
        )
    speech = work / "speech-10s.mp3"
    if not speech.exists():
        _ffmpeg(
            "-ss",
            "0.3",
            "-t",
            "10",
            "-i",
            str(samples[0]),
            "-c:a",
            "libmp3lame",
            "-b:a",
            "48k",
            "-ar",
            "24000",
            "-ac",
            "1",
            str(speech),
        )
    n = max(1, round(minutes / 10))
    return _concat([block] * (n // 2) + [speech] + [block] * (n - n // 2), dest)


# ---------------------------------------------------------------------------------------------
# One stage in a fresh process


def _status_mb(field: str) -> float:
    """VmRSS or VmHWM of this process in MB. (ru_maxrss would also count the parent's pages that a
    spawned child carried before exec.)"""
    import re

    text = Path("/proc/self/status").read_text()
    return round(int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024, 1)


def child(stage: str, source: Path, folder: Path, model: str, window_s: float | None) -> None:
    from pipeline.config import IngestConfig, TranscribeConfig
    from pipeline.schema import AudioInfo, Transcript
    from pipeline.speakers.config import SpeakersConfig
    from pipeline.stages import ingest, speakers, transcribe
    from pipeline.store import atomic_write_text

    before = _status_mb("VmRSS")
    t0 = time.monotonic()
    if stage == "ingest":
        info = ingest.run(source, "long", folder, IngestConfig())
        extra = {
            "audio_seconds": info.duration,
            "wav_mb": round((folder / info.normalized_path).stat().st_size / 1e6, 1),
        }
    else:
        info = AudioInfo.from_dict(json.loads((folder / ingest.INFO_NAME).read_text()))
        if stage == "transcribe":
            window = transcribe.WINDOW_SECONDS if window_s is None else window_s
            asr = transcribe.run(
                info, folder, TranscribeConfig(model=model), workers=1, window_seconds=window
            )
            atomic_write_text(folder / transcribe.OUTPUT_NAME, asr.to_json())
            extra = {
                "windows": len(asr.provenance["transcribe"].get("windows") or [None]),
                "segments": len(asr.segments),
                "words": sum(len(s.words) for s in asr.segments),
                "rtf": round((time.monotonic() - t0) / info.duration, 4),
            }
        else:
            asr = Transcript.load(folder / transcribe.OUTPUT_NAME)
            tagged = speakers.run(asr, info, folder, SpeakersConfig())
            extra = {"segments": len(tagged.segments), "speakers": len(tagged.speakers)}
    out = {
        "stage": stage,
        "seconds": round(time.monotonic() - t0, 1),
        "rss_after_imports_mb": before,
        "peak_rss_mb": _status_mb("VmHWM"),
        **extra,
    }
    print("RESULT " + json.dumps(out), flush=True)


def run_stage(
    stage: str,
    source: Path,
    folder: Path,
    model: str,
    limit_s: float,
    window_s: float | None = None,
    timeline_s: float = 30.0,
) -> dict:
    import psutil

    cmd = [
        sys.executable,
        __file__,
        "--child",
        stage,
        "--source",
        str(source),
        "--folder",
        str(folder),
        "--model",
        model,
        *(["--window-s", str(window_s)] if window_s is not None else []),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    ps = psutil.Process(proc.pid)
    sampled, timeline = 0, []
    while proc.poll() is None:
        try:
            total = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
            sampled = max(sampled, total)
            slot = int((time.monotonic() - t0) // timeline_s)
            timeline += [0] * (slot + 1 - len(timeline))
            timeline[slot] = max(timeline[slot], total)
        except psutil.Error:
            pass
        if time.monotonic() - t0 > limit_s:
            proc.kill()
            break
        time.sleep(0.1)
    stdout, stderr = proc.communicate()
    result = {"stage": stage, "completed": False, "wall_seconds": round(time.monotonic() - t0, 1)}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            result.update(json.loads(line[7:]), completed=True)
    if not result["completed"] and proc.returncode not in (None, -9):
        result["error"] = (
            stderr.strip().splitlines()[-1][:300] if stderr.strip() else f"exit {proc.returncode}"
        )
    result["peak_rss_sampled_mb"] = round(sampled / 2**20, 1)
    result["rss_timeline_mb"] = [round(x / 2**20) for x in timeline]
    return result


# ---------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--cases",
        default="speech:10,speech:10:inf,speech:60,speech:120,sparse:10,sparse:180",
        help="content:minutes[:window_seconds], comma-separated (content: speech or sparse; "
        "window inf: one pass)",
    )
    ap.add_argument("--stages", default="ingest,transcribe,speakers")
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--limit-s", type=float, default=1500, help="stop a stage after this many seconds")
    ap.add_argument("--timeline-s", type=float, default=30.0, help="stretch of rss_timeline_mb")
    ap.add_argument("--window-s", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "long_audio.json")
    ap.add_argument(
        "--work", type=Path, help="folder for the inputs and stage outputs (default: a temp folder)"
    )
    ap.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.source, args.folder, args.model, args.window_s)
        return

    stages = [s for s in args.stages.split(",") if s]
    work = (args.work or Path(tempfile.mkdtemp(prefix="bench-long-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: list = []
    started_load = os.getloadavg()
    for case in args.cases.split(","):
        content, minutes, *rest = case.split(":")
        window_s = float(rest[0]) if rest else None
        src = make_input(content, float(minutes), work)
        folder = work / case.replace(":", "-")
        folder.mkdir(parents=True, exist_ok=True)
        row = {
            "content": content,
            "minutes": float(minutes),
            "window_seconds": "one pass" if window_s == float("inf") else window_s or "default",
            "input_mb": round(src.stat().st_size / 1e6, 1),
            "stages": [],
        }
        for stage in stages:
            r = run_stage(stage, src, folder, args.model, args.limit_s, window_s, args.timeline_s)
            row["stages"].append(r)
            print(json.dumps({"case": case, **r}), flush=True)
            if not r["completed"]:
                break  # the next stage needs this one's output
        results.append(row)
        for p in folder.glob("*.wav"):
            p.unlink()  # up to 350 MB each
        _write(
            args, results, started_load
        )  # after every case: a long run stopped early keeps what it measured
    print(f"wrote {args.out}")


def _write(args: argparse.Namespace, results: list, started_load: tuple) -> None:
    from pipeline.stages.transcribe import WINDOW_SECONDS

    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": started_load,
            "load_average": os.getloadavg(),
        },
        "window_seconds_default": WINDOW_SECONDS,
        "model": args.model,
        "limit_s": args.limit_s,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
