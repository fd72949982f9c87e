"""ASR benchmark: speed (realtime factor), accuracy (WER) and peak memory of both engines.

    python bench/bench_asr.py --out bench/results/asr.json

For each engine (faster-whisper int8, openai-whisper float32 on the same converted weights) and
model (tiny.en, base), in a fresh subprocess each so peak RSS is per configuration:

* RTF = decode seconds / audio seconds on a >= 60 s file made by concatenating the English clips
  of ../shared/eval/asr (and audio_samples/*.mp3 when present), repeated until long enough,
  after one short warm-up decode (excludes one-time JIT and allocator set-up; load time is
  reported separately);
* WER over the English clips (jfk, LDC93S1, quilter, harvard/* with ``corrected_reference``),
  corpus-level, after whisper's EnglishTextNormalizer;
* peak RSS of the subprocess (ru_maxrss).

Settings are the same for all: beam 5, word timestamps, language "en", default temperatures.
The machine's load average is recorded: on a shared machine timings vary with other work.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval" / "asr"
SAMPLE_RATE = 16000
MIN_LONG_SECONDS = 60.0
ENGINES = {"faster-whisper": {"compute_type": "int8"}, "openai-whisper": {}}


def english_clips() -> list[tuple[str, Path, str]]:
    """(id, audio path, reference text) for the English clips with a usable reference."""
    clips = []
    for name, audio in (("jfk", "jfk.flac"), ("LDC93S1", "LDC93S1.wav"), ("quilter", "quilter.wav")):
        clips.append(
            (name, EVAL / audio, (EVAL / f"{name}.expected.txt").read_text(encoding="utf-8").strip())
        )
    with open(EVAL / "harvard" / "references.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            clips.append((row["id"], EVAL / "harvard" / f"{row['id']}.wav", row["corrected_reference"]))
    return clips


def load_audio(path: Path):
    """16 kHz mono float32 via ffmpeg, as ``whisper.load_audio`` does, without importing torch
    (so the faster-whisper worker's peak RSS does not include PyTorch)."""
    import numpy as np

    cmd = ["ffmpeg", "-nostdin", "-threads", "0", "-i", str(path), "-f", "s16le", "-ac", "1"]
    cmd += ["-acodec", "pcm_s16le", "-ar", str(SAMPLE_RATE), "-"]
    pcm = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0


def long_audio(clips: list[tuple[str, Path, str]]):
    import numpy as np

    sources = [p for _, p, _ in clips] + sorted((ROOT / "audio_samples").glob("*.mp3"))
    gap = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    decoded = [load_audio(p) for p in sources]
    pieces: list = []
    i = 0
    while i < len(decoded) or sum(map(len, pieces)) < MIN_LONG_SECONDS * SAMPLE_RATE:
        pieces += [decoded[i % len(decoded)], gap]  # all sources once, then cycle until long enough
        i += 1
    return np.concatenate(pieces), [p.name for p in sources]


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def worker(engine_name: str, model: str, cache_dir: str | None, cpu_threads: int, repeat: int) -> dict:
    """Run one configuration in this process; return its figures."""
    from pipeline.engines import DecodeOptions, load_engine

    options = DecodeOptions(language="en", beam_size=5, word_timestamps=True)
    clips = english_clips()
    audio, sources = long_audio(clips)
    kwargs = dict(
        ENGINES[engine_name], cache_dir=Path(cache_dir) if cache_dir else None, cpu_threads=cpu_threads
    )
    t0 = time.perf_counter()
    engine = load_engine(engine_name, model, **kwargs)
    load_s = time.perf_counter() - t0
    engine.transcribe(load_audio(clips[0][1])[: 3 * SAMPLE_RATE], options)  # warm-up
    runs = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), _cpu_seconds()
        engine.transcribe(audio, options)
        runs.append((time.perf_counter() - t0, _cpu_seconds() - c0))
    decode_s, cpu_s = min(runs)
    hyps = {}
    for cid, path, _ in clips:
        result = engine.transcribe(load_audio(path), options)
        hyps[cid] = " ".join(s.text for s in result.segments)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "engine": engine_name,
        "model": model,
        "model_info": result.model,
        "cpu_threads": cpu_threads,
        "load_s": round(load_s, 2),
        "long_audio_s": round(len(audio) / SAMPLE_RATE, 2),
        "long_audio_sources": sources,
        "decode_s_runs": [round(w, 2) for w, _ in runs],
        "decode_s": round(decode_s, 2),
        "rtf": round(decode_s / (len(audio) / SAMPLE_RATE), 4),
        "cpu_s": round(cpu_s, 2),
        "cpu_rtf": round(cpu_s / (len(audio) / SAMPLE_RATE), 4),
        "hypotheses": hyps,
        "peak_rss_mib": round(peak_mib, 1),
    }


def corpus_wer(clips, hyps: dict[str, str]) -> tuple[float, dict[str, float]]:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    refs = [norm(ref) for _, _, ref in clips]
    outs = [norm(hyps[cid]) for cid, _, _ in clips]
    per_clip = {cid: round(jiwer.wer(r, h), 4) for (cid, _, _), r, h in zip(clips, refs, outs, strict=True)}
    return round(jiwer.wer(refs, outs), 4), per_clip


def run_config(engine: str, model: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", engine, model, "--cpu-threads", str(args.cpu_threads)]
    cmd += ["--repeat", str(args.repeat)]
    if args.cache_dir:
        cmd += ["--cache-dir", args.cache_dir]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{engine}/{model} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def markdown(rows: list[dict], ratios: dict[str, float]) -> str:
    lines = [
        "| engine | model | RTF (beam 5, words) | CPU s per audio s | WER | peak RSS MiB | load s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['engine']} ({r['model_info']['compute_type']}) | {r['model']} | {r['rtf']:.3f} | {r['cpu_rtf']:.3f} | "
            f"{r['wer'] * 100:.1f}% | {r['peak_rss_mib']:.0f} | {r['load_s']:.1f} |"
        )
    lines.append("")
    lines += [f"- {m}: faster-whisper is {x:.1f}x faster than openai-whisper" for m, x in ratios.items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "asr.json")
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    ap.add_argument("--cpu-threads", type=int, default=0, help="0: each library's default")
    ap.add_argument("--repeat", type=int, default=1, help="decodes of the long file; the fastest counts")
    ap.add_argument(
        "--omp-wait-policy",
        choices=["active", "passive"],
        default=None,
        help="OMP_WAIT_POLICY for the workers (passive avoids spin-waiting on a busy, shared machine)",
    )
    ap.add_argument("--cache-dir", default=None, help="model cache (default: the pipeline's)")
    ap.add_argument("--worker", nargs=2, metavar=("ENGINE", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not EVAL.is_dir():
        ap.error(f"evaluation data not found at {EVAL}")
    if args.worker:
        print(json.dumps(worker(*args.worker, args.cache_dir, args.cpu_threads, args.repeat)))
        return 0

    clips = english_clips()
    started_load = os.getloadavg()
    rows = []
    for model in args.models:
        for engine in args.engines:
            print(f"running {engine} / {model} ...", file=sys.stderr, flush=True)
            row = run_config(engine, model, args)
            row["wer"], row["per_clip_wer"] = corpus_wer(clips, row.pop("hypotheses"))
            rows.append(row)
    ratios = {}
    for model in args.models:
        by = {r["engine"]: r for r in rows if r["model"] == model}
        if {"faster-whisper", "openai-whisper"} <= by.keys():
            ratios[model] = round(by["openai-whisper"]["rtf"] / by["faster-whisper"]["rtf"], 2)
    report = {
        "settings": {
            "beam_size": 5,
            "word_timestamps": True,
            "language": "en",
            "cpu_threads": args.cpu_threads,
            "repeat": args.repeat,
            "omp_wait_policy": args.omp_wait_policy or os.environ.get("OMP_WAIT_POLICY"),
            "warm_up": "one 3 s decode before timing",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_start": started_load,
            "loadavg_end": os.getloadavg(),
        },
        "results": rows,
        "faster_over_openai_speedup": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(markdown(rows, ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
