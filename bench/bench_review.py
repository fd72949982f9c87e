"""How fast does the review page open, play and filter for a 90-minute interview?

Generates a synthetic interview (default 1,500 segments, ~15,000 words, ~1,000 replacements, 8 % of
the words unsure) with a 90-minute recording (a real 30-second recording from shared/eval looped,
16 kHz mono, where the ingest stage would put it), writes its review page (which makes the MP3 copy
the page plays), opens it in headless Chromium (Debian's /usr/bin/chromium via Playwright)
and measures:

- ready: ``performance.now()`` at the "review-ready" mark the page sets after rendering (time from
  navigation start, so it includes parsing the HTML and the embedded JSON); painted: the
  "review-painted" mark two animation frames later (first layout and paint done);
- filter: time to apply a filter and lay the page out again (type off, score range, compact view);
- audio ready: the "review-audio-ready" mark (the audio element's first ``canplay``), from
  navigation start; unsure words: the "review-low-words" mark (their highlights set);
- seek: from setting ``currentTime`` to a segment's start (page-side ``seekTo``, 30 segments spread
  over the recording, 0.4 s apart) until the ``seeked`` event, until the segment and its word are lit
  and scrolled into view ("shown"), and until the next frame is painted.

Prints a table and writes ``bench/results/review.json``. Targets: ready < 2 s (issue 6); audio
ready < 1 s and every seek shown < 100 ms (issue 18).

    python bench/bench_review.py [--segments 1500] [--redactions 1000] [--runs 3]
    python bench/bench_review.py --screenshot docs/review_page.png   # the picture in docs/review.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.review import write_review_pages  # noqa: E402
from pipeline.review.audio import AUDIO_NAME  # noqa: E402
from pipeline.schema import Redaction, Segment, Speaker, Transcript, Word  # noqa: E402
from pipeline.store import Layout, atomic_write_json, atomic_write_text  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
RECORDING = ROOT / ".." / "shared" / "eval" / "speakers" / "sample.wav"
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
            Word(
                round(t0 + j * step, 2),
                round(t0 + (j + 1) * step, 2),
                " " + w,
                0.3 if rng.random() < 0.08 else 0.95,
            )
            for j, w in enumerate(ws)
        ]
        segs.append(
            Segment(i, round(t0, 2), round(t0 + per_seg, 2), text, "S1" if i % 2 == 0 else "S2", words)
        )
        reds += seg_reds
    speakers = [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")]
    return Transcript(f"bench-{seconds / 60:.0f}min", "en", segs, speakers, seconds), reds


def _mark(page, name: str, timeout: float = 30.0) -> float:
    """The start time of a performance mark, polled (the page's CSP forbids evaluating strings in it)."""
    end = time.monotonic() + timeout
    while True:
        t = page.evaluate(f"(performance.getEntriesByName({name!r})[0] || {{}}).startTime")
        if t is not None:
            return t
        if time.monotonic() > end:
            raise TimeoutError(f"no {name} mark after {timeout} s")
        page.wait_for_timeout(10)


def _p95(xs: list[float]) -> float:
    return sorted(xs)[int(0.95 * (len(xs) - 1))]


def make_recording(dest: Path, seconds: float) -> str:
    """A recording of ``seconds`` at ``dest`` (16 kHz mono wav): the eval sample looped, or noise."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if RECORDING.is_file():
        src, what = ["-stream_loop", "-1", "-i", str(RECORDING)], f"{RECORDING.name} looped"
    else:
        src, what = ["-f", "lavfi", "-i", "anoisesrc=c=pink:a=0.05"], "pink noise (eval sample missing)"
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-y",
        *src,
        "-t",
        str(seconds),
        "-ac",
        "1",
        "-ar",
        "16000",
        str(dest),
    ]
    subprocess.run(cmd, check=True)
    return what


def measure(page_path: Path, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    audio_ready: list[float] = []
    low_words: list[float] = []
    seeks: list[list[float]] = []
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
            painted.append(_mark(page, "review-painted"))
            audio_ready.append(_mark(page, "review-audio-ready"))
            low_words.append(_mark(page, "review-low-words"))
            seeks.append(
                page.evaluate(
                    """async (n) => {
                      const a = document.getElementById('audio'), out = [];
                      const segs = document.querySelectorAll('#transcript .seg').length;
                      const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
                      for (let k = 0; k < n; k++) {
                        const g = Math.floor(((k * 7919) % n) * segs / n);
                        await new Promise(r => setTimeout(r, 400));  // a reviewer's pause between jumps
                        let seeked = 0;
                        a.addEventListener('seeked', () => (seeked = performance.now()), { once: true });
                        const t0 = performance.now();
                        await window.reviewApp.seekTo(g);  // seeked, then segment and word lit, scrolled to
                        const shown = performance.now();
                        await frames();
                        out.push([seeked - t0, shown - t0, performance.now() - t0]);
                      }
                      return out;
                    }""",
                    30,
                )
            )
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
        "audio_ready_ms": audio_ready,
        "low_words_ms": low_words,
        "seek_ms": [x for run in seeks for x in run],  # [seeked, shown, painted] per seek
        "filter_ms": filters,
        "blocked_requests": blocked,
        "chromium": version,
    }


def _demo_folder(out: Path) -> Path:
    """A short made-up interview (names invented) with a recording, for the documentation picture."""
    lines = [
        ("S1", "Thank you for taking part. Could you tell me a little about your work?"),
        ("S2", "My name is Anna Jensen and I work as a nurse at the Riverside Clinic in Aarhus."),
        ("S2", "How long have you been there?"),  # the wrong speaker: corrected in the picture
        ("S2", "Since 2015. I told honor yens and about the study last week, she might join too."),
        ("S2", "My sister Karen says it is a good idea."),
    ]
    segs, t = [], 0.5
    for i, (spk, text) in enumerate(lines):
        words = []
        for w in text.split():
            p = 0.3 if w in ("honor", "yens", "and") and i == 3 else 0.95
            words.append(Word(round(t, 2), round(t + 0.3, 2), " " + w, p, spk))
            t += 0.33
        segs.append(Segment(i, words[0].start, words[-1].end, text, spk, words))
        t += 0.6
    raw = Transcript(
        "P01", "en", segs, [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")]
    )

    def red(sid: int, value: str, etype: str, score: float, rec: str, rep: str) -> Redaction:
        start = segs[sid].text.index(value)
        return Redaction(sid, start, start + len(value), value, etype, score, rec, rep)

    reds = [
        red(1, "Anna Jensen", "PERSON", 0.85, "spacy_ner", "Maria Holm"),
        red(1, "Riverside Clinic", "ORGANIZATION", 0.55, "organisation", "[ORGANISATION_1]"),
        red(1, "Aarhus", "LOCATION", 0.85, "spacy_ner", "[PLACE_1]"),
        red(3, "2015", "DATE_TIME", 0.6, "date", "[DATE_1]"),
        red(4, "Karen", "PERSON", 0.5, "name_gazetteer", "Lise"),
    ]
    layout = Layout(out)
    layout.create()
    atomic_write_text(layout.restricted("P01") / "transcript.json", raw.to_json())
    atomic_write_json(layout.restricted("P01") / "redactions.json", [r.to_dict() for r in reds])
    make_recording(layout.restricted("P01") / "audio.wav", 30.0)
    [page] = write_review_pages(out)
    return page


def screenshot(dest: Path) -> None:
    """The page while a reviewer listens to segment 3 and corrects it."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        page_path = _demo_folder(Path(tmp) / "OUT")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 860})
        page.goto(page_path.as_uri())
        page.wait_for_selector("html[data-audio-ready='1']", state="attached")
        page.wait_for_selector("html[data-low-words]", state="attached")
        page.click("#g2 button[data-p='edit']")
        page.select_option("#g2 .editor select", "S1")
        page.click("#g2 .editor button[data-e='save']")
        page.click("mark[data-r='1'] button[data-a='reject']")
        page.click("mark[data-r='0'] button[data-a='accept']")
        page.fill("#reviewer", "A. Researcher")
        page.click("#g1 button[data-p='play']")
        page.wait_for_timeout(1300)
        page.keyboard.press("Space")
        page.click("#g3 button[data-p='edit']")
        page.fill(
            "#g3 .editor textarea",
            "Since 2015. I told Anna Jensen about the study last week, she might join too.",
        )
        page.screenshot(path=str(dest))
        browser.close()
    print(f"written {dest}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--segments", type=int, default=1500)
    ap.add_argument("--minutes", type=float, default=90.0, help="length of the interview and its recording")
    ap.add_argument("--redactions", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "review.json")
    ap.add_argument("--screenshot", type=Path, help="only write a picture of the page to this PNG file")
    args = ap.parse_args()
    if not Path(CHROMIUM).is_file():
        print(f"{CHROMIUM} missing: install Debian's chromium", file=sys.stderr)
        return 2
    if args.screenshot:
        screenshot(args.screenshot)
        return 0

    raw, reds = synthetic(args.segments, args.redactions, seconds=args.minutes * 60)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "OUT"
        layout = Layout(out)
        layout.create()
        atomic_write_text(layout.restricted(raw.interview_id) / "transcript.json", raw.to_json())
        atomic_write_json(
            layout.restricted(raw.interview_id) / "redactions.json", [r.to_dict() for r in reds]
        )
        recording = make_recording(layout.restricted(raw.interview_id) / "audio.wav", raw.duration)
        t0 = time.perf_counter()
        [page] = write_review_pages(out)  # the first write also encodes the audio copy
        first_write_s = time.perf_counter() - t0
        audio_bytes = (page.parent / AUDIO_NAME).stat().st_size
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
        "first_write_with_audio_s": round(first_write_s, 1),
        "recording": recording,
        "audio_bytes": audio_bytes,
        "audio_ready_ms": [round(x, 1) for x in m["audio_ready_ms"]],
        "audio_ready_ms_median": round(statistics.median(m["audio_ready_ms"]), 1),
        "low_words_ms_median": round(statistics.median(m["low_words_ms"]), 1),
        **{
            f"seek_{name}_ms_{stat}": round(fn([x[i] for x in m["seek_ms"]]), 1)
            for i, name in enumerate(("seeked", "shown", "painted"))
            for stat, fn in (("median", statistics.median), ("p95", _p95), ("max", max))
        },
        "seeks": len(m["seek_ms"]),
        "ready_ms": [round(x, 1) for x in m["ready_ms"]],
        "ready_ms_median": round(statistics.median(m["ready_ms"]), 1),
        "painted_ms_median": round(statistics.median(m["painted_ms"]), 1),
        "filter_ms_median": {k: round(statistics.median(v), 1) for k, v in m["filter_ms"].items()},
        "filter_ms_max": round(max(max(v) for v in m["filter_ms"].values()), 1),
        "blocked_requests": len(m["blocked_requests"]),
        "target_ms": 2000,
        "target_audio_ready_ms": 1000,
        "target_seek_ms": 100,
        "chromium": m["chromium"],
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "runs": args.runs,
    }
    result["pass"] = (
        result["ready_ms_median"] < 2000
        and result["filter_ms_max"] < 2000
        and not result["blocked_requests"]
        and result["audio_ready_ms_median"] < 1000
        and result["seek_shown_ms_max"] < 100
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
        f"| audio ready (navigation start -> first 'canplay'), {audio_bytes / 1e6:.1f} MB MP3 | {result['audio_ready_ms_median']} |"
    )
    print(f"| unsure words highlighted ('review-low-words') | {result['low_words_ms_median']} |")
    for name, what in (("seeked", "'seeked' event"), ("shown", "segment and word lit, scrolled to"),
                       ("painted", "next frame painted")):  # fmt: skip
        print(
            f"| seek to a segment -> {what} ({result['seeks']} seeks): median / p95 / max | "
            f"{result[f'seek_{name}_ms_median']} / {result[f'seek_{name}_ms_p95']} / {result[f'seek_{name}_ms_max']} |"
        )
    print(f"| first page write incl. MP3 encoding of {raw.duration / 60:.0f} min (s) | {first_write_s:.1f} |")
    print(
        f"targets (ready < 2000 ms, audio ready < 1000 ms, seek shown < 100 ms): {'PASS' if result['pass'] else 'FAIL'}; "
        f"blocked network requests: {result['blocked_requests']}"
    )
    print(f"written {args.out}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
