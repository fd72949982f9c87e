"""Danish de-identification benchmark: planted personal data in a Danish interview, default config.

Two transcripts mark each planted value as ``{TYPE:value}``: ``tests/data/deid_da_interview.txt``
(the one the Danish recognizers were developed on) and ``tests/data/deid_da_interview_2.txt``
(written afterwards as a check; two fixes came from it: "X & Partnere" and "-huset" compounds) and
``tests/data/deid_da_interview_3.txt`` (written last: 52 of 55 before the two fixes that came
from it, frequent first names that are also words opening a sentence, "Forening for X").
The marks are removed, the plain ``Speaker: text`` file goes through ``python -m pipeline deidentify
FILE --out DIR`` with no configuration (a fresh output folder, no passphrase), and the restricted
redaction log is compared with the marks:

* a planted value **leaves no word behind** when every word of it lies inside a replacement (and so
  none of its words is in ``shareable/``; checked on the shareable text as well);
* an **ordinary word replaced** is a word inside a replacement that is no part of a planted value;
* role labels (``Interviewer``, ``Deltager``) must come out unchanged, and so must the pause and
  inaudible markers in the text.

Types ending in ``_SPOKEN`` (phone and CPR numbers, e-mail addresses read aloud) are reported apart:
the figure is given with and without them.

    python bench/bench_pii_da.py [--file PATH ...] [--keep DIR]

Prints a summary and writes bench/results/pii_da.json. Needs nothing outside the repository (the
Danish lists are fetched by scripts/install_danish_data.sh or on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [
    ROOT / "tests" / "data" / "deid_da_interview.txt",
    ROOT / "tests" / "data" / "deid_da_interview_2.txt",
    ROOT / "tests" / "data" / "deid_da_interview_3.txt",
]
RESULTS = ROOT / "bench" / "results" / "pii_da.json"
MARK = re.compile(r"\{(?P<type>[A-Z_]+):(?P<value>[^{}]+)\}")
WORD = re.compile(r"\w+")
LINE = re.compile(r"^(?P<label>[^:]+):\s+(?P<text>.*)$")


def parse_planted(annotated: str) -> tuple[str, list[dict], list[str]]:
    """(plain text, planted values with their segment and offsets, the segment texts)."""
    plain_lines, planted, segments = [], [], []
    for line in annotated.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError(f"not a 'Speaker: text' line: {line[:30]!r}")
        text, out, cursor = m.group("text"), [], 0
        for mark in MARK.finditer(text):
            out.append(text[cursor : mark.start()])
            start = sum(len(p) for p in out)
            out.append(mark.group("value"))
            planted.append(
                {
                    "segment": len(segments),
                    "start": start,
                    "end": start + len(mark.group("value")),
                    "type": mark.group("type"),
                    "value": mark.group("value"),
                }
            )
            cursor = mark.end()
        out.append(text[cursor:])
        plain = "".join(out)
        segments.append(plain)
        plain_lines.append(f"{m.group('label')}: {plain}")
    return "\n".join(plain_lines) + "\n", planted, segments


def run_cli(plain: str, workdir: Path) -> tuple[dict, dict, float]:
    """Run the CLI with no configuration; (redaction log, shareable transcript JSON, seconds)."""
    src = workdir / "interview-da.txt"
    src.write_text(plain, encoding="utf-8")
    out = workdir / "out"
    env = {k: v for k, v in os.environ.items() if k != "INTERVIEW_PIPELINE_PASSPHRASE"}
    env["PYTHONPATH"] = str(ROOT)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "deidentify", str(src), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"deidentify failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    reds = json.loads(next((out / "restricted").glob("*/redactions.json")).read_text(encoding="utf-8"))
    shareable = json.loads(next((out / "shareable").glob("*/transcript.json")).read_text(encoding="utf-8"))
    return reds, shareable, seconds


def score(planted: list[dict], segments: list[str], reds: dict, shareable: dict, labels: list[str]) -> dict:
    spans: dict[int, list[tuple[int, int]]] = {}
    for r in reds["redactions"]:
        if r["segment_id"] >= 0:
            spans.setdefault(r["segment_id"], []).append((r["start"], r["end"]))

    def covered(seg: int, s: int, e: int) -> bool:
        return any(a <= s and e <= b for a, b in spans.get(seg, []))

    per_type: dict[str, Counter] = {}
    missed = []
    for p in planted:
        words = [(m.start() + p["start"], m.end() + p["start"]) for m in WORD.finditer(p["value"])]
        ok = all(covered(p["segment"], s, e) for s, e in words)
        c = per_type.setdefault(p["type"], Counter())
        c["planted"] += 1
        c["replaced"] += ok
        if not ok:
            missed.append({"type": p["type"], "segment": p["segment"]})
    ordinary = []
    for seg, text in enumerate(segments):
        inside = [(p["start"], p["end"]) for p in planted if p["segment"] == seg]
        for m in WORD.finditer(text):
            if covered(seg, m.start(), m.end()) and not any(
                a <= m.start() and m.end() <= b for a, b in inside
            ):
                ordinary.append(seg)
    out_segments = [s["text"] for s in shareable["segments"]]
    markers_kept = all(
        mk in out_segments[i]
        for i, text in enumerate(segments)
        for mk in re.findall(r"\(\d+ s\)|\[inaudible [^\]]+\]", text)
    )
    out_labels = [s["label"] for s in shareable["speakers"]]

    def rate(types) -> dict:
        n = sum(per_type[t]["planted"] for t in types)
        k = sum(per_type[t]["replaced"] for t in types)
        return {"planted": n, "fully_replaced": k, "rate": round(k / n, 3) if n else None}

    spoken = [t for t in per_type if t.endswith("_SPOKEN")]
    written = [t for t in per_type if not t.endswith("_SPOKEN")]
    return {
        "all": rate(list(per_type)),
        "without_spoken": rate(written),
        "spoken_only": rate(spoken),
        "per_type": {t: dict(c) for t, c in sorted(per_type.items())},
        "ordinary_words_replaced": len(ordinary),
        "role_labels_kept": out_labels == labels,
        "markers_kept": markers_kept,
        "missed": missed,
    }


def bench_file(path: Path, keep: Path | None) -> dict:
    plain, planted, segments = parse_planted(path.read_text(encoding="utf-8"))
    labels = list(dict.fromkeys(LINE.match(x).group("label") for x in plain.splitlines()))
    with tempfile.TemporaryDirectory(prefix="bench-pii-da-") as tmp:
        work = (keep / path.stem) if keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        reds, shareable, seconds = run_cli(plain, work)
    result = score(planted, segments, reds, shareable, labels)
    deid = shareable["provenance"]["deidentify"]
    result.update(
        {
            "file": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name,
            "answers": sum(1 for x in plain.splitlines() if not x.startswith(f"{labels[0]}:")),
            "language": deid["language"],
            "language_source": deid.get("language_source"),
            "seconds_cli": round(seconds, 1),
        }
    )
    return result


def _total(results: list[dict], key: str) -> dict:
    n = sum(r[key]["planted"] for r in results)
    k = sum(r[key]["fully_replaced"] for r in results)
    return {"planted": n, "fully_replaced": k, "rate": round(k / n, 3) if n else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, nargs="+", default=DEFAULT_FILES, help="annotated transcript(s)")
    ap.add_argument("--keep", type=Path, help="keep the output folders here (they hold personal data)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()
    results = [bench_file(f, args.keep) for f in args.file]
    summary = {
        "command": "python -m pipeline deidentify FILE --out DIR (no configuration, fresh output folder)",
        "all": _total(results, "all"),
        "without_spoken": _total(results, "without_spoken"),
        "spoken_only": _total(results, "spoken_only"),
        "ordinary_words_replaced": sum(r["ordinary_words_replaced"] for r in results),
        "files": results,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for r in results:
        a, w = r["all"], r["without_spoken"]
        print(f"{r['file']}: language {r['language']} ({r['language_source']}), {r['answers']} answers")
        print(f"  fully replaced, all planted values: {a['fully_replaced']}/{a['planted']} = {a['rate']}")
        print(f"  without spoken numbers/e-mails: {w['fully_replaced']}/{w['planted']} = {w['rate']}")
        print(f"  ordinary words replaced: {r['ordinary_words_replaced']}")
        print(f"  role labels kept: {r['role_labels_kept']}, markers kept: {r['markers_kept']}")
        print(
            "  " + ", ".join(f"{t} {c.get('replaced', 0)}/{c['planted']}" for t, c in r["per_type"].items())
        )
    a, w = summary["all"], summary["without_spoken"]
    print(
        f"total: {a['fully_replaced']}/{a['planted']} = {a['rate']}; without spoken {w['rate']}; "
        f"ordinary words replaced {summary['ordinary_words_replaced']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
