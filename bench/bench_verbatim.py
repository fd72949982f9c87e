"""Transcripts a researcher can quote: WER per language, the guard, inaudible markers, determinism.

    python bench/bench_verbatim.py [--out bench/results/verbatim.json] [--work /tmp/bench-verbatim]

Every figure comes from ``python -m pipeline run`` itself (the product defaults; a variant passes
one ``--config`` file that changes only what its name says), reading what the run wrote:
``restricted/<id>/transcript.asr.json``. Sets:

* ``en``: the 13 short English clips of ../shared/eval/asr (jfk, LDC93S1, quilter, 10 Harvard
  sentences; references per its README), WER after whisper's EnglishTextNormalizer;
* ``da``: the 13 Danish NST clips of ../shared/eval/asr-da, WER on the 6 with a reference (lower
  case, punctuation removed; digits are not spelt out, so "1, 2, 3" counts against "en to tre");
* ``ami``: the 12 AMI meeting excerpts (30 s) of ../shared/eval/speakers/ami30s, no reference:
  words removed by the guard, inaudible markers, and whether every Silero speech region of at
  least 1 s holds a word or a marker.

Variants: ``defaults``; ``prompt`` (``transcribe.verbatim.use_prompt: true``: the verbatim prompt of
the detected language); ``fallback`` (``transcribe.temperature: [0, 0.2, ..., 1.0]``, seeded).
``defaults`` runs twice into two output folders; determinism is the number of byte-identical
``transcript.asr.json`` files. Markers (``(N s)``, ``[inaudible ...]``) are removed before WER.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "defaults": {},
    "prompt": {"transcribe": {"verbatim": {"use_prompt": True}}},
    "fallback": {"transcribe": {"temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]}},
}
MARKER = re.compile(r"\(\d+ s\)|\[inaudible [^\]]*\]|\[\?\]")
FILLERS = {  # Danish "er" is a verb, not a filler
    "en": re.compile(r"\b(um+|uh+|er+m?|hmm+|mm+|ah+)\b"),
    "da": re.compile(r"\b(øh+m?|æh+m?|hmm+|mm+)\b"),
}
DA_WORDS = set(
    "og i at det er en der til for på med jeg som de ikke har af den man så om var han hun vi et kan".split()
)
EN_WORDS = set("the and is of to a in that it you was for on are with be this have".split())


def english() -> list[tuple[Path, str | None]]:
    e = EVAL / "asr"
    clips = [
        (e / a, (e / f"{n}.expected.txt").read_text(encoding="utf-8").strip())
        for n, a in (("jfk", "jfk.flac"), ("LDC93S1", "LDC93S1.wav"), ("quilter", "quilter.wav"))
    ]
    with open(e / "harvard" / "references.tsv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            clips.append((e / "harvard" / f"{row['id']}.wav", row["corrected_reference"]))
    return clips


def danish() -> list[tuple[Path, str | None]]:
    refs = json.loads((EVAL / "asr-da" / "references.json").read_text(encoding="utf-8"))
    return [(p, refs.get(p.stem)) for p in sorted((EVAL / "asr-da").glob("*.wav"))]


def ami() -> list[tuple[Path, str | None]]:
    return [(p, None) for p in sorted((EVAL / "speakers" / "ami30s").glob("*.wav"))]


SETS = {"en": english, "da": danish, "ami": ami}


def pipeline_run(files: list[Path], out: Path, overrides: dict) -> float:
    """``python -m pipeline run FILES --out OUT [--config variant.yaml]``; returns wall seconds."""
    import yaml

    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "pipeline", "run", *map(str, files), "--out", str(out), "--no-progress"]
    if overrides:
        out.mkdir(parents=True)
        cfg = out.with_name(out.name + ".yaml")
        cfg.write_text(yaml.safe_dump(overrides), encoding="utf-8")
        cmd += ["--config", str(cfg)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return time.monotonic() - t0


def transcripts(out: Path) -> dict[str, Path]:
    """Source file stem -> the run's transcript.asr.json."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {
        Path(rec["source"]).stem: out / "restricted" / iid / "transcript.asr.json"
        for iid, rec in manifest["interviews"].items()
        if rec.get("source")  # not the project-wide entry
    }


def da_norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w ]+", " ", MARKER.sub(" ", text.lower())).split())


def wer(lang: str, pairs: list[tuple[str, str]]) -> float | None:
    if not pairs:
        return None
    if lang == "en":
        from whisper.normalizers import EnglishTextNormalizer

        n = EnglishTextNormalizer()
        refs, hyps = [n(r) for r, _ in pairs], [n(MARKER.sub(" ", h)) for _, h in pairs]
    else:
        refs, hyps = [da_norm(r) for r, _ in pairs], [da_norm(h) for _, h in pairs]
    return round(jiwer.wer(refs, hyps), 4)


def written_in(text: str) -> str:
    words = da_norm(text).split()
    da, en = sum(w in DA_WORDS for w in words), sum(w in EN_WORDS for w in words)
    return "da" if da > en else "en" if en > da else "?"


def uncovered_regions(asr: dict, audio: Path) -> tuple[int, int]:
    """(speech regions >= 1 s, those with no word or marker), with the guard's own VAD settings."""
    from pipeline.config import GuardConfig
    from pipeline.verbatim.guard import speech_regions

    words = [(w["start"], w["end"]) for s in asr["segments"] for w in s["words"]]
    long = [(a, b) for a, b in speech_regions(audio, GuardConfig()) if b - a >= 1.0]
    return len(long), sum(not any(x < b and y > a for x, y in words) for a, b in long)


def measure(set_name: str, clips, out: Path) -> dict:
    paths = transcripts(out)
    rows, pairs = {}, []
    regions = uncovered = 0
    for audio, ref in clips:
        path = paths[audio.stem]
        asr = json.loads(path.read_text(encoding="utf-8"))
        text = " ".join(s["text"] for s in asr["segments"])
        guard = asr["provenance"]["transcribe"].get("guard", {})
        row = {
            "language": asr["language"],
            "written_in": written_in(text),
            "words": sum(len(s["words"]) for s in asr["segments"]),
            "removed": guard.get("removed", 0),
            "inaudible": guard.get("inaudible", 0),
            "recovered": guard.get("words_recovered", 0),
            "pauses": len(re.findall(r"\(\d+ s\)", text)),
            "fillers": len(FILLERS["da" if set_name == "da" else "en"].findall(text.lower())),
        }
        if set_name == "ami":
            n, missing = uncovered_regions(asr, path.with_name("audio.wav"))
            row.update(regions_1s=n, regions_1s_without_words=missing)
            regions, uncovered = regions + n, uncovered + missing
        if ref:
            pairs.append((ref, text))
            row["wer"] = wer(set_name if set_name != "ami" else "en", [(ref, text)])
        rows[audio.stem] = row
    langs: dict[str, int] = {}
    for r in rows.values():
        langs[r["language"]] = langs.get(r["language"], 0) + 1
    summary = {
        "clips": len(rows),
        "wer": wer(set_name, pairs),
        "referenced": len(pairs),
        "languages": langs,
        "written_in_danish": sum(r["written_in"] == "da" for r in rows.values()),
        "removed": sum(r["removed"] for r in rows.values()),
        "inaudible": sum(r["inaudible"] for r in rows.values()),
        "recovered": sum(r["recovered"] for r in rows.values()),
        "fillers": sum(r["fillers"] for r in rows.values()),
    }
    if set_name == "ami":
        summary.update(regions_1s=regions, regions_1s_without_words=uncovered)
    return {"summary": summary, "clips": rows}


def identical(a: Path, b: Path) -> tuple[int, int]:
    pa, pb = transcripts(a), transcripts(b)
    return sum(pa[k].read_bytes() == pb[k].read_bytes() for k in pa), len(pa)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "verbatim.json")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-verbatim"))
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="measure output folders of an earlier call again, without running",
    )
    ap.add_argument(
        "--variant-sets",
        nargs="+",
        default=["en", "da"],
        choices=list(SETS),
        help="sets the non-default variants run on",
    )
    args = ap.parse_args()
    if not EVAL.is_dir():
        ap.error(f"evaluation data not found at {EVAL}")
    report: dict = {"load_start": os.getloadavg(), "runs": {}, "determinism": {}}
    for variant in args.variants:
        for set_name in args.sets:
            if variant != "defaults" and set_name not in args.variant_sets:
                continue
            clips = SETS[set_name]()
            out = args.work / f"{variant}-{set_name}"
            print(f"{variant} / {set_name} ...", file=sys.stderr, flush=True)
            seconds = None  # output folder of an earlier call (--reuse): not timed here
            if not (args.reuse and (out / "manifest.json").is_file()):
                seconds = pipeline_run([p for p, _ in clips], out, VARIANTS[variant])
            result = measure(set_name, clips, out)
            result["summary"]["wall_s"] = round(seconds, 1) if seconds is not None else None
            report["runs"][f"{variant}/{set_name}"] = result
            print(json.dumps(result["summary"]), file=sys.stderr, flush=True)
            if variant == "defaults":
                again = args.work / f"{variant}-{set_name}-again"
                if not (args.reuse and (again / "manifest.json").is_file()):
                    pipeline_run([p for p, _ in clips], again, VARIANTS[variant])
                same, total = identical(out, again)
                report["determinism"][set_name] = {"identical": same, "files": total}
                print(f"  byte-identical on a second run: {same} of {total}", file=sys.stderr, flush=True)
    report["load_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(report))
    return 0


def table(report: dict) -> str:
    lines = [
        "| run | set (clips) | WER | languages detected | written in Danish | words removed by the guard | "
        "inaudible markers | words recovered | speech regions ≥ 1 s without words | fillers | "
        "byte-identical on a 2nd run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in report["runs"].items():
        variant, set_name = key.split("/")
        s = r["summary"]
        det = report["determinism"].get(set_name) if variant == "defaults" else None
        same = f"{det['identical']} of {det['files']}" if det else "–"
        danish = s["written_in_danish"] if set_name == "da" else "–"
        if set_name == "ami":
            lost = f"{s['regions_1s_without_words']} of {s['regions_1s']}"
        else:
            lost = "–"
        lines.append(
            f"| {variant} | {set_name} ({s['clips']}) | {s['wer'] if s['wer'] is not None else '–'} | "
            f"{', '.join(f'{k} {v}' for k, v in s['languages'].items())} | {danish} | "
            f"{s['removed']} | {s['inaudible']} | {s['recovered']} | {lost} | {s['fillers']} | "
            f"{same} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
