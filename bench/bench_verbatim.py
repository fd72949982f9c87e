"""What verbatim mode keeps: fillers, false starts and pauses, with the prompt on and off.

    python bench/bench_verbatim.py [--model base] [--out bench/results/verbatim.json]

Transcribes the sample interviews (audio_samples/, exact reference text) and pyannote's sample.wav
(../shared/eval/speakers, a real telephone conversation with a human transcript) twice each: verbatim
mode on (the default: verbatim-style prompt, pause markers) and off (plain Whisper). Counts filler
words and "you know" in the reference and in each output, pause markers, and WER with the markers
removed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import jiwer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import IngestConfig, TranscribeConfig, VerbatimConfig  # noqa: E402
from pipeline.stages import ingest, transcribe  # noqa: E402

FILLERS = re.compile(r"\b(um+|uh+|er+m?|hmm+|mm+|ah+)\b")
YOU_KNOW = re.compile(r"\byou know\b")
MARKER = re.compile(r"\(\d+ s\)|\[\?\]")


def norm(text: str) -> str:
    text = MARKER.sub(" ", text.lower()).replace("-", " ")
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text).split())


def references() -> list[tuple[str, Path, str]]:
    items = []
    for ref in sorted((REPO / "audio_samples").glob("interview_*.reference.json")):
        data = json.loads(ref.read_text())
        items.append(
            (
                ref.stem.split(".")[0],
                ref.with_name(ref.stem.split(".")[0] + ".mp3"),
                " ".join(t["text"] for t in data["turns"]),
            )
        )
    sample = REPO.parent / "shared" / "eval" / "speakers"
    if (sample / "sample.stm").is_file():
        text = " ".join(
            line.split(None, 5)[5]
            for line in (sample / "sample.stm").read_text().splitlines()
            if line.strip()
        )
        items.append(("sample.wav (pyannote)", sample / "sample.wav", text))
    # AMI meeting excerpts: spontaneous speech, full of fillers, but no reference text here.
    for wav in sorted((sample / "ami30s").glob("*.wav")):
        items.append((f"ami30s/{wav.name}", wav, None))
    return items


def count(text: str) -> dict[str, int]:
    t = norm(text)
    return {"fillers": len(FILLERS.findall(t)), "you_know": len(YOU_KNOW.findall(t))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="base")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "verbatim.json")
    args = ap.parse_args()
    rows = []
    work = Path("/tmp/bench-verbatim")
    for name, audio, ref in references():
        info = ingest.run(audio, "x", work / name.split()[0], IngestConfig())
        row = {"file": name, "reference": count(ref) if ref else None}
        for mode, verbatim in (("verbatim", VerbatimConfig()), ("plain", VerbatimConfig(enabled=False))):
            cfg = TranscribeConfig(model=args.model, language="en", verbatim=verbatim)
            t0 = time.monotonic()
            t = transcribe.run(info, work / name.split()[0], cfg)
            text = t.text
            row[mode] = {
                **count(text),
                "pause_markers": len(re.findall(r"\(\d+ s\)", text)),
                "wer": round(jiwer.wer(norm(ref), norm(text)), 4) if ref else None,
                "seconds": round(time.monotonic() - t0, 1),
            }
        rows.append(row)
    print(
        "| file | fillers ref / verbatim / plain | 'you know' ref / verbatim / plain | pause markers verbatim | WER verbatim / plain |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        if r["reference"] is None:
            continue
        print(
            f"| {r['file']} | {r['reference']['fillers']} / {r['verbatim']['fillers']} / {r['plain']['fillers']} | "
            f"{r['reference']['you_know']} / {r['verbatim']['you_know']} / {r['plain']['you_know']} | {r['verbatim']['pause_markers']} | "
            f"{r['verbatim']['wer']:.3f} / {r['plain']['wer']:.3f} |"
        )
    ami = [r for r in rows if r["reference"] is None]
    if ami:
        print(
            f"\nAMI excerpts ({len(ami)} x 30 s, no reference): fillers verbatim {sum(r['verbatim']['fillers'] for r in ami)}"
            f" vs plain {sum(r['plain']['fillers'] for r in ami)}; 'you know' {sum(r['verbatim']['you_know'] for r in ami)}"
            f" vs {sum(r['plain']['you_know'] for r in ami)}; pause markers {sum(r['verbatim']['pause_markers'] for r in ami)}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
