"""How fast does the review page open and filter for a 90-minute interview?

Generates a synthetic interview (default 1,500 segments, ~15,000 words, ~1,000 replacements),
writes its review page, opens it in headless Chromium (Debian's /usr/bin/chromium via Playwright)
and measures:

- ready: ``performance.now()`` at the "review-ready" mark the page sets after rendering (time from
  navigation start, so it includes parsing the HTML and the embedded JSON); painted: the
  "review-painted" mark two animation frames later (first layout and paint done);
- filter: time to apply a filter and lay the page out again (type off, score range, compact view).

Prints a table and writes ``bench/results/review.json``. Target (issue 6): < 2 s for both.

    python bench/bench_review.py [--segments 1500] [--redactions 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.review import write_review_pages  # noqa: E402
from pipeline.schema import Redaction, Segment, Speaker, Transcript, Word  # noqa: E402
from pipeline.store import Layout, atomic_write_json, atomic_write_text  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
FILLER = (
    "so um I think that the thing is you know we used to go there every week and it was fine but then "
    "after a while things changed quite a lot for all of us and I mean it was hard to say what would happen"
).split()
TYPES = [("PERSON", "spacy_ner"), ("LOCATION", "spacy_ner"), ("ORGANIZATION", "organisation"),
         ("DATE_TIME", "date"), ("PERSON", "known_names"), ("PERSON", "name_gazetteer"), ("PHONE_NUMBER", "phone")]  # fmt: skip
NAMES = [
    "Anna Jensen",
    "Peter",
    "Karen Holm",
    "Aarhus",
    "Riverside Clinic",
    "14 March 2023",
    "Mette",
    "555 0123",
]


def synthetic(
    n_segments: int, n_redactions: int, seconds: float = 5400.0, seed: int = 1
) -> tuple[Transcript, list[Redaction]]:
    """A deterministic long interview: filler talk with personal data inserted at random places."""
    rng = random.Random(seed)
    per_seg = seconds / n_segments
    per_segment_count = [0] * n_segments
    for i in rng.choices(range(n_segments), k=n_redactions):
        per_segment_count[i] += 1
    segs, reds = [], []
    for i in range(n_segments):
        tokens: list[str | int] = [rng.choice(FILLER) for _ in range(rng.randint(7, 13))]
        for _ in range(per_segment_count[i]):
            tokens.insert(rng.randint(0, len(tokens)), rng.randrange(len(NAMES)))
        parts, seg_reds, pos = [], [], 0
        for tok in tokens:
            piece = NAMES[tok] if isinstance(tok, int) else tok
            if isinstance(tok, int):
                etype, rec = rng.choice(TYPES)
                rep = f"[{etype}_{rng.randint(1, 40)}]"
                seg_reds.append(
                    Redaction(
                        i, pos, pos + len(piece), piece, etype, round(rng.uniform(0.3, 1.0), 2), rec, rep
                    )
                )
            parts.append(piece)
            pos += len(piece) + 1
        text = " ".join(parts) + "."
        t0 = i * per_seg
        ws = text.split()
        step = per_seg / len(ws)
        words = [
            Word(round(t0 + j * step, 2), round(t0 + (j + 1) * step, 2), " " + w) for j, w in enumerate(ws)
        ]
        segs.append(
            Segment(i, round(t0, 2), round(t0 + per_seg, 2), text, "S1" if i % 2 == 0 else "S2", words)
        )
        reds += seg_reds
    speakers = [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")]
    return Transcript("bench-90min", "en", segs, speakers, seconds), reds


def measure(page_path: Path, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    ready, painted, filters, blocked = (
        [],
        [],
        {"type_off": [], "score_range": [], "compact": [], "reset": []},
        [],
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(runs):
            ctx = browser.new_context()
            page = ctx.new_page()
            page.route(
                "**/*",
                lambda r: (
                    r.continue_()
                    if r.request.url.startswith("file://")
                    else (blocked.append(r.request.url), r.abort())
                ),
            )
            page.goto(page_path.as_uri())
            page.wait_for_selector("html[data-ready='1']")
            ready.append(page.evaluate("performance.getEntriesByName('review-ready')[0].startTime"))
            page.wait_for_function("() => performance.getEntriesByName('review-painted').length > 0")
            painted.append(page.evaluate("performance.getEntriesByName('review-painted')[0].startTime"))
            timings = page.evaluate(
                """() => {
                  const t = {};
                  const time = (name, fn) => { const t0 = performance.now(); fn(); document.body.offsetHeight;
                                               t[name] = performance.now() - t0; };
                  const fire = (el, ev) => el.dispatchEvent(new Event(ev, {bubbles: true}));
                  const person = document.querySelector("#types input[data-type='PERSON']");
                  time("type_off", () => { person.checked = false; fire(person, "change"); });
                  time("score_range", () => { const el = document.getElementById("score-min"); el.value = "0.6"; fire(el, "input"); });
                  time("compact", () => { const el = document.getElementById("compact"); el.checked = true; fire(el, "change"); });
                  time("reset", () => {
                    person.checked = true; document.getElementById("score-min").value = "0";
                    document.getElementById("compact").checked = false; fire(person, "change"); });
                  return t;
                }"""
            )
            for k, v in timings.items():
                filters[k].append(v)
            ctx.close()
        version = browser.version
        browser.close()
    return {
        "ready_ms": ready,
        "painted_ms": painted,
        "filter_ms": filters,
        "blocked_requests": blocked,
        "chromium": version,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segments", type=int, default=1500)
    ap.add_argument("--redactions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "review.json")
    args = ap.parse_args()
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} missing: install Debian's chromium", file=sys.stderr)
        return 2

    raw, reds = synthetic(args.segments, args.redactions)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "OUT"
        layout = Layout(out)
        layout.create()
        atomic_write_text(layout.restricted(raw.interview_id) / "transcript.json", raw.to_json())
        atomic_write_json(
            layout.restricted(raw.interview_id) / "redactions.json", [r.to_dict() for r in reds]
        )
        t0 = time.perf_counter()
        [page] = write_review_pages(out)
        write_s = time.perf_counter() - t0
        size = page.stat().st_size
        m = measure(page, args.runs)

    words = sum(len(s.words) for s in raw.segments)
    result = {
        "segments": len(raw.segments),
        "words": words,
        "redactions": len(reds),
        "audio_minutes": raw.duration / 60,
        "page_bytes": size,
        "write_page_s": round(write_s, 3),
        "ready_ms": [round(x, 1) for x in m["ready_ms"]],
        "ready_ms_median": round(statistics.median(m["ready_ms"]), 1),
        "painted_ms_median": round(statistics.median(m["painted_ms"]), 1),
        "filter_ms_median": {k: round(statistics.median(v), 1) for k, v in m["filter_ms"].items()},
        "filter_ms_max": round(max(max(v) for v in m["filter_ms"].values()), 1),
        "blocked_requests": len(m["blocked_requests"]),
        "target_ms": 2000,
        "chromium": m["chromium"],
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "runs": args.runs,
    }
    result["pass"] = (
        result["ready_ms_median"] < 2000 and result["filter_ms_max"] < 2000 and not result["blocked_requests"]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"review page, {result['segments']} segments / {words} words / {len(reds)} replacements, {size / 1e6:.2f} MB"
    )
    print("| measure | median ms |\n|---|---|")
    print(f"| write page (Python) | {write_s * 1000:.0f} |")
    print(f"| open to ready (navigation start -> 'review-ready') | {result['ready_ms_median']} |")
    print(f"| open to first paint of the transcript ('review-painted') | {result['painted_ms_median']} |")
    for k, v in result["filter_ms_median"].items():
        print(f"| filter: {k} | {v} |")
    print(
        f"target < 2000 ms: {'PASS' if result['pass'] else 'FAIL'}; blocked network requests: {result['blocked_requests']}"
    )
    print(f"written {args.out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
