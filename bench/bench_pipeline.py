"""End-to-end throughput benchmark: ingest -> transcribe -> speakers -> deidentify -> export.

    python bench/bench_pipeline.py            # full: ~30 min of audio per configuration (long)
    python bench/bench_pipeline.py --quick    # the two sample interviews as they are (minutes)

A batch of interviews is made with ffmpeg in a temporary folder from audio_samples/interview_0{1,2}.mp3
(concatenated, alternating, to --interview-minutes each; MP3 like a recorder writes). The batch then
goes through the real CLI (``python -m pipeline run``) in a fresh subprocess per configuration:

* per model (tiny.en, base) and engine: faster-whisper int8 with 1 and 2 workers, and the same
  pipeline through openai-whisper on the same weights (beam 5, word timestamps: the pipeline's
  decoding settings), in the same run;
* end-to-end realtime factor = wall seconds / audio seconds (model loading included), and per
  stage from the manifest (summed stage seconds / audio seconds; with 2 workers stages overlap);
* peak memory per process, sampled with psutil every 0.2 s: the coordinator and each worker
  (with 1 worker the audio stages run in the coordinator);
* WER of the speaker-tagged raw transcripts against the samples' reference turns (pause markers
  removed, whisper's EnglishTextNormalizer), so a speed-up that costs accuracy shows;
* wall time vs total audio for N = 1, 2, 4 interviews (default configuration) with a linear fit;
* ``--batched``: faster-whisper's BatchedInferencePipeline (VAD chunks) against the sequential
  decoder on the batch's audio: decode time, WER, word-timing agreement, segment count.

The machine is shared while the project is built: os.getloadavg() is recorded around every run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = [ROOT / "audio_samples" / f"interview_0{i}.mp3" for i in (1, 2)]
MARKER = re.compile(r"\(\d+ s\)|\[\?\]")
TARGETS = {
    "rtf_base_int8": 0.15,
    "speedup_vs_openai": 3.0,
    "peak_worker_mib": round(2.5e9 / 2**20),
}  # issue 8

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------------------------
# The batch


def probe_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip())


def make_batch(folder: Path, n: int, minutes: float) -> list[dict]:
    """``n`` interviews of about ``minutes`` each, alternating the two samples; returns their sources."""
    folder.mkdir(parents=True, exist_ok=True)
    lengths = [probe_seconds(p) for p in SAMPLES]
    made = []
    for k in range(n):
        parts, total, i = [], 0.0, k  # start each interview on a different sample
        while not parts or total + 0.5 * lengths[i % 2] < minutes * 60:
            parts.append(i % 2)
            total += lengths[i % 2]
            i += 1
        dest = folder / f"bench_{k + 1:02d}.mp3"
        inputs = [a for j in parts for a in ("-i", str(SAMPLES[j]))]
        graph = "".join(f"[{j}:a]" for j in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[a]"
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", graph, "-map", "[a]"]
        subprocess.run([*cmd, "-c:a", "libmp3lame", "-b:a", "64k", str(dest)], check=True)
        made.append(
            {"file": dest.name, "samples": [SAMPLES[j].stem for j in parts], "seconds": probe_seconds(dest)}
        )
    return made


def reference_text(samples: list[str]) -> str:
    texts = []
    for s in samples:
        ref = json.loads((ROOT / "audio_samples" / f"{s}.reference.json").read_text(encoding="utf-8"))
        texts += [t["text"] for t in ref["turns"]]
    return " ".join(texts)


# ---------------------------------------------------------------------------------------------
# One pipeline run, measured


class MemorySampler(threading.Thread):
    """Peak RSS per process of a process tree, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peaks: dict[int, dict] = {}
        self._done = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    entry = self.peaks.get(p.pid)
                    if entry is None:
                        entry = self.peaks[p.pid] = {"role": _role(p, self.pid), "rss": 0}
                    entry["rss"] = max(entry["rss"], rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
            self._done.wait(self.interval)

    def stop(self) -> dict[int, dict]:
        self._done.set()
        self.join()
        return self.peaks


def _role(p, root_pid: int) -> str:
    if p.pid == root_pid:
        return "coordinator"
    cmd = " ".join(p.cmdline())
    if "spawn_main" in cmd and "resource_tracker" not in cmd:
        return "worker"
    return "other"  # ffmpeg, the resource tracker


def run_pipeline(
    batch: Path, out: Path, engine: str, model: str, workers: int, executor: str = "local"
) -> dict:
    """Run the CLI on the batch; wall time, peak memory per process, exit status."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "run", str(batch), "--out", str(out), "--engine", engine]
    cmd += ["--model", model, "--workers", str(workers), "--executor", executor, "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    peaks = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{engine}/{model}/{workers}w failed (exit {proc.returncode}):\n{stderr[-2000:]}{stdout[-1000:]}"
        )
    mib = {
        role: [round(e["rss"] / 2**20) for e in peaks.values() if e["role"] == role]
        for role in ("coordinator", "worker")
    }
    return {
        "wall_s": round(wall, 2),
        "coordinator_peak_mib": max(mib["coordinator"], default=None),
        "worker_peak_mib": sorted(mib["worker"], reverse=True),
        "loadavg_before": [round(x, 2) for x in load0],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def stage_seconds(out: Path) -> dict[str, float]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    totals: dict[str, float] = {}
    for rec in manifest["interviews"].values():
        for stage, data in rec.get("stages", {}).items():
            totals[stage] = round(totals.get(stage, 0.0) + float(data.get("seconds") or 0.0), 2)
    return totals


def batch_wer(out: Path, made: list[dict]) -> float:
    import jiwer
    from whisper.normalizers import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    refs, hyps = [], []
    for item in made:
        iid = Path(item["file"]).stem.replace("_", "-")
        t = json.loads((out / "restricted" / iid / "transcript.json").read_text(encoding="utf-8"))
        hyps.append(norm(MARKER.sub(" ", " ".join(s["text"] for s in t["segments"]))))
        refs.append(norm(reference_text(item["samples"])))
    return round(jiwer.wer(refs, hyps), 4)


def measured_run(
    batch: Path, made: list[dict], work: Path, engine: str, model: str, workers: int, executor: str
) -> dict:
    audio = sum(m["seconds"] for m in made)
    out = work / f"out-{engine}-{model}-{workers}-{executor}"
    print(f"  {engine} / {model} / {workers} worker(s) / {executor}: {len(made)} interview(s), {audio / 60:.1f} min ...",
          file=sys.stderr, flush=True)  # fmt: skip
    r = run_pipeline(batch, out, engine, model, workers, executor)
    stages = stage_seconds(out)
    row = {
        "engine": engine, "model": model, "workers": workers, "executor": executor,
        "interviews": len(made), "audio_s": round(audio, 1), **r,
        "rtf": round(r["wall_s"] / audio, 4),
        "stage_s": stages,
        "stage_rtf": {s: round(v / audio, 4) for s, v in stages.items()},
        "wer": batch_wer(out, made),
    }  # fmt: skip
    print(f"    wall {row['wall_s']} s, RTF {row['rtf']}, WER {row['wer']}", file=sys.stderr, flush=True)
    shutil.rmtree(out, ignore_errors=True)
    return row


# ---------------------------------------------------------------------------------------------
# Linear fit and batched inference


def linear_fit(xs: list[float], ys: list[float]) -> dict:
    import numpy as np

    slope, intercept = np.polyfit(xs, ys, 1)
    pred = slope * np.asarray(xs) + intercept
    ss_res = float(((np.asarray(ys) - pred) ** 2).sum())
    ss_tot = float(((np.asarray(ys) - np.mean(ys)) ** 2).sum())
    return {"slope_s_per_audio_s": round(float(slope), 4), "intercept_s": round(float(intercept), 2),
            "r2": round(1 - ss_res / ss_tot, 4) if ss_tot > 0 else None}  # fmt: skip


def _ref_turns(samples: list[str]) -> list[tuple[float, float]]:
    """Reference speech turns of a concatenated interview, on its own time line."""
    turns, offset = [], 0.0
    for s in samples:
        ref = json.loads((ROOT / "audio_samples" / f"{s}.reference.json").read_text(encoding="utf-8"))
        turns += [(offset + t["start"], offset + t["end"]) for t in ref["turns"]]
        offset += probe_seconds(ROOT / "audio_samples" / f"{s}.mp3")
    return turns


def _decode_set(runner, kw: dict, items: list[tuple[str, object, str]]) -> tuple[float, list[list]]:
    """Decode (id, audio, reference) items; total seconds and each item's segments."""
    from threadpoolctl import threadpool_limits

    secs, out = 0.0, []
    for _, audio, _ in items:
        t0 = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):  # as the transcribe stage does
            out.append(list(runner.transcribe(audio, **kw)[0]))
        secs += time.perf_counter() - t0
    return secs, out


def _timing_agreement(a: list, b: list) -> list[float]:
    """|start difference| of the words both decodings share (runs of >= 3 matching words)."""
    import difflib

    wa = [w for s in a for w in s.words]
    wb = [w for s in b for w in s.words]
    sm = difflib.SequenceMatcher(
        a=[w.word.strip().lower() for w in wa], b=[w.word.strip().lower() for w in wb], autojunk=False
    )
    return [
        abs(wa[m.a + k].start - wb[m.b + k].start)
        for m in sm.get_matching_blocks()
        if m.size >= 3
        for k in range(m.size)
    ]


def batched_comparison(made: list[dict], batch: Path, model: str, batch_size: int) -> dict:
    """Sequential vs BatchedInferencePipeline decoding, with the pipeline's decoding settings.

    On the batch's interviews (WER against the reference turns, share of words inside a
    reference turn +- 0.2 s, word-start agreement between the two) and, when ../shared/eval/asr
    is present, on its English clips (WER).
    """
    import jiwer
    import numpy as np
    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from whisper.normalizers import EnglishTextNormalizer

    from pipeline.config import TranscribeConfig
    from pipeline.models import resolve_model
    from pipeline.stages.transcribe import decode_options, default_threads

    o = decode_options(TranscribeConfig(model=model))
    kw = dict(
        language=o.language,
        beam_size=o.beam_size,
        word_timestamps=True,
        initial_prompt=o.initial_prompt,
        vad_filter=True,
    )
    wm = WhisperModel(
        str(resolve_model(model).path), device="cpu", compute_type="int8", cpu_threads=default_threads(1)
    )
    modes = {"sequential": (wm, {**kw, "condition_on_previous_text": o.condition_on_previous_text}),
             "batched": (BatchedInferencePipeline(wm), {**kw, "batch_size": batch_size})}  # fmt: skip
    norm = EnglishTextNormalizer()
    sets = {
        "interviews": [(m["file"], _decode(batch / m["file"]), reference_text(m["samples"])) for m in made]
    }
    clips = _eval_clips()
    if clips:
        sets["eval_clips"] = [(cid, _decode(path), ref) for cid, path, ref in clips]
    result: dict = {"model": model, "batch_size": batch_size}
    kept: dict[str, list] = {}
    for name, (runner, args) in modes.items():
        result[name] = {}
        for set_name, items in sets.items():
            secs, out = _decode_set(runner, args, items)
            hyps = [norm(" ".join(s.text for s in seg)) for seg in out]
            audio_s = sum(len(a) for _, a, _ in items) / 16000
            result[name][set_name] = {"decode_s": round(secs, 2), "rtf": round(secs / audio_s, 4),
                                      "wer": round(jiwer.wer([norm(r) for _, _, r in items], hyps), 4),
                                      "segments": sum(map(len, out))}  # fmt: skip
            if set_name == "interviews":
                kept[name] = out
        result[name]["interviews"]["words_inside_turns"] = _inside_turns(kept[name], made)
    d = np.array([x for a, b in zip(kept["sequential"], kept["batched"]) for x in _timing_agreement(a, b)])
    result["word_start_diff_s"] = {"matched_words": int(d.size), "median": round(float(np.median(d)), 3),
                                   "p95": round(float(np.percentile(d, 95)), 3), "max": round(float(d.max()), 3)}  # fmt: skip
    result["speedup"] = round(
        result["sequential"]["interviews"]["decode_s"] / result["batched"]["interviews"]["decode_s"], 2
    )
    return result


def _inside_turns(segments_per_interview: list[list], made: list[dict], tolerance: float = 0.2) -> float:
    """Share of words whose middle lies inside a reference speech turn (+- tolerance)."""
    inside = total = 0
    for segs, item in zip(segments_per_interview, made):
        turns = _ref_turns(item["samples"])
        for w in (w for s in segs for w in s.words):
            mid = (w.start + w.end) / 2
            inside += any(a - tolerance <= mid <= b + tolerance for a, b in turns)
            total += 1
    return round(inside / total, 4) if total else 0.0


def _eval_clips() -> list[tuple[str, Path, str]]:
    eval_dir = ROOT.parent / "shared" / "eval" / "asr"
    if not eval_dir.is_dir():
        return []
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_asr import english_clips

    return english_clips()


def _decode(path: Path):
    import numpy as np

    cmd = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        str(path),
        "-f",
        "s16le",
        "-ac",
        "1",
        "-ar",
        "16000",
        "-",
    ]
    pcm = subprocess.run(cmd, capture_output=True, check=True).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0


# ---------------------------------------------------------------------------------------------
# Report


def summarise(rows: list[dict]) -> dict:
    out: dict = {"speedup_vs_openai": {}, "scaling_1_to_2_workers": {}}
    for model in sorted({r["model"] for r in rows}):
        fw = {
            r["workers"]: r
            for r in rows
            if r["model"] == model and r["engine"] == "faster-whisper" and r["executor"] == "local"
        }
        ow = [r for r in rows if r["model"] == model and r["engine"] == "openai-whisper"]
        if fw and ow:
            best = fw.get(ow[0]["workers"]) or min(fw.values(), key=lambda r: r["wall_s"])  # same workers
            out["speedup_vs_openai"][model] = round(ow[0]["wall_s"] / best["wall_s"], 2)
        if 1 in fw and 2 in fw:
            out["scaling_1_to_2_workers"][model] = round(fw[1]["wall_s"] / fw[2]["wall_s"], 2)
    return out


def markdown(report: dict) -> str:
    lines = ["| engine | model | workers | audio min | wall s | RTF | ingest | transcribe | speakers | deidentify | WER | "
             "peak MiB coordinator / workers | load avg |", "|" + "---|" * 13]  # fmt: skip
    for r in report["runs"]:
        st = r["stage_rtf"]
        lines.append(
            f"| {r['engine']} | {r['model']} | {r['workers']} ({r['executor']}) | {r['audio_s'] / 60:.1f} | {r['wall_s']:.0f} | "
            f"**{r['rtf']:.3f}** | {st.get('ingest', 0):.3f} | {st.get('transcribe', 0):.3f} | {st.get('speakers', 0):.3f} | "
            f"{st.get('deidentify', 0):.3f} | {r['wer'] * 100:.1f}% | {r['coordinator_peak_mib']} / "
            f"{', '.join(map(str, r['worker_peak_mib'])) or '-'} | {r['loadavg_before'][0]:.1f} |"
        )
    s = report["summary"]
    lines.append("")
    lines += [
        f"- {m}: faster-whisper pipeline {x:.1f}x faster than the openai-whisper pipeline"
        for m, x in s["speedup_vs_openai"].items()
    ]
    lines += [f"- {m}: 2 workers vs 1: {x:.2f}x" for m, x in s["scaling_1_to_2_workers"].items()]
    if report.get("fit"):
        f = report["fit"]
        pts = ", ".join(
            f"{p['interviews']}: {p['audio_s']:.0f} s audio in {p['wall_s']:.0f} s" for p in f["points"]
        )
        lines.append(f"- wall vs audio ({f['model']}, {f['workers']} worker(s)): {pts}; wall = {f['slope_s_per_audio_s']:.3f} x audio "
                     f"+ {f['intercept_s']:.1f} s, R^2 = {f['r2']}")  # fmt: skip
    for b in report.get("batched", []):
        sq, bt = b["sequential"], b["batched"]
        clips = (f", eval clips WER {sq['eval_clips']['wer'] * 100:.1f}% -> {bt['eval_clips']['wer'] * 100:.1f}%"
                 if "eval_clips" in sq else "")  # fmt: skip
        lines.append(
            f"- batched ({b['model']}, batch {b['batch_size']}): decode RTF {sq['interviews']['rtf']:.3f} -> "
            f"{bt['interviews']['rtf']:.3f} ({b['speedup']:.2f}x), interview WER {sq['interviews']['wer'] * 100:.1f}% -> "
            f"{bt['interviews']['wer'] * 100:.1f}%{clips}, segments {sq['interviews']['segments']} -> "
            f"{bt['interviews']['segments']}, words inside reference turns {sq['interviews']['words_inside_turns']:.3f} -> "
            f"{bt['interviews']['words_inside_turns']:.3f}, word start difference median "
            f"{b['word_start_diff_s']['median']} s, p95 {b['word_start_diff_s']['p95']} s"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="the two samples as they are (~3.3 min audio), base for openai-whisper only",
    )
    ap.add_argument("--minutes", type=float, default=30.0, help="total audio of the batch")
    ap.add_argument(
        "--interview-minutes", type=float, default=7.5, help="length of each interview in the batch"
    )
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument(
        "--workers",
        nargs="*",
        type=int,
        default=[1, 2],
        help="faster-whisper worker counts (none: no pipeline runs)",
    )
    ap.add_argument(
        "--openai-models",
        nargs="*",
        default=None,
        help="models for the openai-whisper baseline (default: --models)",
    )
    ap.add_argument("--executor", default="local", choices=["local", "dask-local"])
    ap.add_argument(
        "--fit",
        nargs="*",
        type=int,
        default=[1, 2, 4],
        help="interview counts for the wall-vs-audio fit (none: skip)",
    )
    ap.add_argument("--fit-model", default="base")
    ap.add_argument(
        "--fit-minutes", type=float, default=5.0, help="length of each interview in the fit batches"
    )
    ap.add_argument("--batched", nargs="*", type=int, default=None, metavar="BATCH_SIZE",
                    help="also compare BatchedInferencePipeline at these batch sizes (e.g. --batched 4 8)")  # fmt: skip
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pipeline.json")
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.interview_minutes, args.fit_minutes = 3.3, 1.6, 1.6
        args.openai_models = ["base"] if args.openai_models is None else args.openai_models
    if args.openai_models is None:
        args.openai_models = list(args.models)
    return args


def main() -> int:
    args = parse_args()
    if shutil.which("ffmpeg") is None or not all(p.is_file() for p in SAMPLES):
        print("needs ffmpeg and audio_samples/interview_0{1,2}.mp3", file=sys.stderr)
        return 2
    report: dict = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "machine": {"cpus": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)), "platform": platform.platform(),
                                "python": platform.python_version(), "loadavg_start": os.getloadavg(),
                                "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY")},
                    "targets": TARGETS, "runs": []}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        work = Path(tmp)
        n = max(1, round(args.minutes / args.interview_minutes))
        made = make_batch(work / "batch", n, args.interview_minutes)
        report["batch"] = made
        print(
            f"batch: {n} interview(s), {sum(m['seconds'] for m in made) / 60:.1f} min of audio",
            file=sys.stderr,
        )
        for model in args.models:
            for w in args.workers:
                report["runs"].append(
                    measured_run(work / "batch", made, work, "faster-whisper", model, w, args.executor)
                )
            if model in args.openai_models:
                w = max(args.workers, default=1)
                report["runs"].append(
                    measured_run(work / "batch", made, work, "openai-whisper", model, w, args.executor)
                )
        if args.fit:
            report["fit"] = fit_runs(args, work)
        if args.batched:
            report["batched"] = [
                batched_comparison(made, work / "batch", m, b) for m in args.models for b in args.batched
            ]
    report["summary"] = summarise(report["runs"])
    report["machine"]["loadavg_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


def fit_runs(args: argparse.Namespace, work: Path) -> dict:
    """Wall time for N = 1, 2, 4 ... interviews with the default worker count, and its linear fit."""
    from pipeline.config import PipelineConfig
    from pipeline.runner import resolve_workers

    workers = resolve_workers(PipelineConfig())
    points = []
    for n in args.fit:
        made = make_batch(work / f"fit-{n}", n, args.fit_minutes)
        row = measured_run(
            work / f"fit-{n}", made, work, "faster-whisper", args.fit_model, workers, args.executor
        )
        points.append({"interviews": n, "audio_s": row["audio_s"], "wall_s": row["wall_s"], "rtf": row["rtf"],
                       "loadavg_before": row["loadavg_before"]})  # fmt: skip
    fit = linear_fit([p["audio_s"] for p in points], [p["wall_s"] for p in points]) if len(points) > 1 else {}
    return {"model": args.fit_model, "workers": workers, "points": points, **fit}


if __name__ == "__main__":
    sys.exit(main())
