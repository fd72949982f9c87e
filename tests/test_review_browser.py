"""The review page in a real browser (Debian's chromium through Playwright): filters, decisions,
download, no network; then apply-review on what the browser downloaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.deid.gazetteer import load_name_gazetteer
from pipeline.deid.key import PseudonymKey
from pipeline.deid.pseudonyms import Detection, PseudonymAssigner
from pipeline.deid.rewrite import rewrite_segment
from pipeline.review.common import load_interview, state_hash
from pipeline.review.decisions import merge_stored, parse_decisions_file, validate
from pipeline.review.page import write_review_pages
from pipeline.review.render import apply_decisions
from pipeline.schema import Redaction, Segment, Speaker, Transcript, Word
from pipeline.store import Layout, atomic_write_json, atomic_write_text

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} missing (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright Python package is not installed"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Page:
    """One page under test: every request recorded, any non-file request aborted and counted."""

    def __init__(self, browser, path: Path):
        self.ctx = browser.new_context(accept_downloads=True)
        self.requests: list[str] = []
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.page = self.ctx.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.route("**/*", self._route)
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("html[data-ready='1']")

    def _route(self, route) -> None:
        url = route.request.url
        if url.startswith(("file://", "blob:", "data:")):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def select(self, g: int, text: str) -> None:
        """Select the first occurrence of ``text`` in segment ``g`` as a user would."""
        found = self.page.evaluate(
            """([g, text]) => {
              const root = document.querySelector('#g' + g + ' .txt');
              const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
              let n;
              while ((n = walk.nextNode())) {
                const i = n.data.indexOf(text);
                if (i >= 0 && n.parentElement.hasAttribute('data-o')) {
                  const r = document.createRange();
                  r.setStart(n, i); r.setEnd(n, i + text.length);
                  const s = getSelection(); s.removeAllRanges(); s.addRange(r);
                  return true;
                }
              }
              return false;
            }""",
            [g, text],
        )
        assert found, f"{text!r} not found in segment {g}"

    def shown(self) -> int:
        return self.page.locator("#transcript mark[data-r]:not(.off)").count()

    def download(self, reviewer: str, dest: Path) -> Path:
        self.page.fill("#reviewer", reviewer)
        with self.page.expect_download() as info:
            self.page.click("#download")
        info.value.save_as(dest)
        return dest

    def close(self) -> None:
        self.ctx.close()


# ---------------------------------------------------------------------------------------------
# A hand-made interview: the page's own mechanics, independent of the detector


def _seg(i: int, t0: float, speaker: str, text: str) -> Segment:
    words = [
        Word(t0 + k * 0.4, t0 + k * 0.4 + 0.35, " " + w, 0.9, speaker) for k, w in enumerate(text.split(" "))
    ]
    return Segment(i, t0, t0 + len(words) * 0.4, text, speaker, words)


RAW = Transcript(
    "int-a",
    "en",
    [
        _seg(0, 0.0, "S1", "Thank you for agreeing to take part."),
        _seg(1, 3.0, "S2", "My name is Anna Jensen and I live in Aarhus."),
        _seg(2, 8.0, "S1", "And who looks after Peter? </script><b>not bold</b>"),
        _seg(3, 12.0, "S2", "My sister does, Peter is fine, call 555 0123."),
    ],
    [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")],
    16.0,
)


def _red(sid: int, value: str, etype: str, score: float, rec: str, rep: str) -> Redaction:
    start = RAW.segments[sid].text.index(value)
    return Redaction(sid, start, start + len(value), value, etype, score, rec, rep)


REDS = [
    _red(1, "Anna Jensen", "PERSON", 0.85, "spacy_ner", "[PERSON_1]"),
    _red(1, "Aarhus", "LOCATION", 0.5, "spacy_ner", "[PLACE_1]"),
    _red(3, "sister", "PERSON", 0.4, "name_gazetteer", "[PERSON_2]"),
    _red(3, "555 0123", "PHONE_NUMBER", 0.7, "phone", "[PHONE_1]"),
]


@pytest.fixture()
def handmade(tmp_path: Path) -> Path:
    out = tmp_path / "OUT"
    layout = Layout(out)
    layout.create()
    atomic_write_text(layout.restricted("int-a") / "transcript.json", RAW.to_json())
    atomic_write_json(
        layout.restricted("int-a") / "redactions.json",
        {"interview_id": "int-a", "redactions": [r.to_dict() for r in REDS]},
    )
    return out


def test_reviewer_rejects_marks_and_downloads_in_a_real_browser(
    browser, handmade: Path, tmp_path: Path
) -> None:
    [path] = write_review_pages(handmade)
    ui = Page(browser, path)
    page = ui.page
    try:
        assert page.locator("#transcript .seg").count() == 4
        assert ui.shown() == 4
        # The hostile text is shown as text, not markup.
        assert "</script><b>not bold</b>" in page.inner_text("#g2")
        assert page.locator("#g2 b").count() == 0

        # Filters: by type, by score, flagged only, compact.
        page.uncheck("#types input[data-type='PERSON']")
        assert ui.shown() == 2
        page.check("#types input[data-type='PERSON']")
        page.fill("#score-min", "0.6")
        assert ui.shown() == 2  # Anna Jensen 0.85 and the phone 0.70
        page.fill("#score-min", "0")
        page.check("#flagged-only")
        assert ui.shown() == 2  # Aarhus (low score) and "sister" (gazetteer, low)
        page.check("#compact")
        assert page.locator("#transcript .seg:not(.hide)").count() == 2
        page.uncheck("#flagged-only")
        page.uncheck("#compact")

        # Reject "Aarhus"; mark the missed "Peter" everywhere and add it to the known names.
        page.click("mark[data-r='1'] button[data-a='reject']")
        assert "d-reject" in page.get_attribute("mark[data-r='1']", "class")
        ui.select(2, "Peter")
        page.select_option("#mark-type", "PERSON")
        page.check("#mark-known")
        page.click("#mark-btn")
        assert page.locator("#transcript mark.added").count() == 2  # both occurrences
        assert "known: Peter" in page.inner_text("#list-adds")

        # Without a name the download is refused; with one, the file arrives.
        page.click("#download")
        assert "Enter your name" in page.inner_text("#msg")
        dl = ui.download("Test Reviewer", tmp_path / "decisions.json")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)
        assert ui.errors == []
        assert ui.blocked == [], "the page tried to reach the network"
        assert all(u.startswith(("file://", "blob:")) for u in ui.requests), ui.requests
    finally:
        ui.close()

    obj, digest = parse_decisions_file(dl)
    assert obj["interview_id"] == "int-a" and obj["reviewer"] == "Test Reviewer"
    assert obj["state_sha256"] == state_hash(*load_interview(Layout(handmade), "int-a"))
    raw, reds = load_interview(Layout(handmade), "int-a")
    review = validate(
        dl,
        obj,
        digest,
        raw,
        reds,
        state_hash(raw, reds),
        ("PERSON", "LOCATION"),
        {"known_names": [], "allow_list": []},
    )
    assert sorted(d["action"] for d in review.decisions) == ["add", "add", "reject"]
    assert review.list_additions == [{"list": "known_names", "term": "Peter"}]

    # What the stage will do with these decisions: Aarhus restored, Peter replaced in both places.
    stored = merge_stored(None, review, reds, "2024-05-01T10:00:00+00:00")
    key = PseudonymKey()
    people = [
        Detection(r.segment_id, r.start, r.end, r.entity_type, r.score, r.recognizer, r.text)
        for r in REDS
        if r.entity_type == "PERSON"
    ]
    PseudonymAssigner(DeidentifyConfig(), key, load_name_gazetteer(()), "int-a").assign(
        people
    )  # as the engine did
    segs = [
        rewrite_segment(s, [(r.start, r.end, r.replacement, r.text) for r in REDS if r.segment_id == s.id])
        for s in RAW.segments
    ]
    shareable = Transcript(RAW.interview_id, "en", segs, RAW.speakers)
    out, final = apply_decisions(RAW, shareable, REDS, stored, key)
    assert out.segments[1].text == "My name is [PERSON_1] and I live in Aarhus."
    assert out.segments[2].text.startswith("And who looks after [PERSON_3]?")
    assert out.segments[3].text == "My [PERSON_2] does, [PERSON_3] is fine, call [PHONE_1]."


def test_resume_from_a_decisions_file(browser, handmade: Path, tmp_path: Path) -> None:
    [path] = write_review_pages(handmade)
    ui = Page(browser, path)
    try:
        ui.page.click("mark[data-r='0'] button[data-a='accept']")
        ui.select(0, "agreeing")
        ui.page.uncheck("#mark-all")
        ui.page.click("#mark-btn")
        first = json.loads(ui.download("R", tmp_path / "d1.json").read_text())
    finally:
        ui.close()
    ui = Page(browser, path)
    try:
        ui.page.set_input_files("#load", str(tmp_path / "d1.json"))
        ui.page.wait_for_selector("#msg.ok")
        assert ui.page.inner_text("#msg").startswith("Resumed")
        assert ui.page.locator("#transcript mark.added").count() == 1
        second = json.loads(ui.download("R", tmp_path / "d2.json").read_text())
        # A version 1 file (before corrections existed) resumes too, migrated.
        v1 = {k: v for k, v in first.items() if k not in ("corrections", "approved")}
        (tmp_path / "v1.json").write_text(json.dumps({**v1, "version": 1}), encoding="utf-8")
        assert _load(ui, tmp_path / "v1.json") == "ok"
        third = json.loads(ui.download("R", tmp_path / "d3.json").read_text())
    finally:
        ui.close()
    assert second["decisions"] == first["decisions"] == third["decisions"]
    assert third["version"] == 2 and third["corrections"] == [] and third["approved"] is False


# ---------------------------------------------------------------------------------------------
# End to end with the real de-identification: review, apply-review, shareable outputs


def _integrated() -> bool:
    """The deid library is installed and the coordinator applies stored review decisions."""
    import inspect

    try:
        import pipeline.deid.engine  # noqa: F401
        from pipeline import runner
    except ImportError:
        return False
    sources = (inspect.getsource(runner.Coordinator), inspect.getsource(runner.Coordinator.deidentify))
    return any("apply_decisions" in src for src in sources)


@pytest.mark.skipif(
    not _integrated(),
    reason="Coordinator does not apply review decisions yet (pipeline.review.apply_decisions)",
)
def test_review_then_apply_review_end_to_end(browser, tmp_path: Path) -> None:
    from pipeline.config import PipelineConfig
    from pipeline.review import apply_review
    from pipeline.runner import Coordinator

    src = tmp_path / "src"
    src.mkdir()
    (src / "int-a.txt").write_text(
        "Interviewer: Thank you for taking part. Where do you work?\n"
        "Participant: I am Anna Jensen and I work at the Riverside Clinic in Aarhus.\n"
        "Interviewer: Who helps you at home?\n"
        "Participant: Mostly my neighbour. I asked Moonbeam about it.\n",
        encoding="utf-8",
    )
    (src / "int-b.txt").write_text(
        "Interviewer: Thank you for taking part.\nParticipant: I asked Moonbeam about the study.\n",
        encoding="utf-8",
    )
    out = tmp_path / "OUT"
    config = PipelineConfig.model_validate({"export": {"formats": ["txt"]}})
    outcomes = Coordinator(out, config, progress=False).run(sorted(src.glob("*.txt")), transcripts=True)
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    layout = Layout(out)
    raw, reds = load_interview(layout, "int-a")
    before_b = (layout.shareable("int-b") / "transcript.json").read_text()
    assert "Moonbeam" in before_b, "the test needs a name the detector misses; pick another"
    g_missed = next(i for i, s in enumerate(raw.segments) if "Moonbeam" in s.text)
    target = next(r for r in reds if r.text != "Anna Jensen" and "Moonbeam" not in r.text)

    [path] = write_review_pages(out, interview="int-a")
    ui = Page(browser, path)
    try:
        idx = ui.page.evaluate(
            "id => JSON.parse(document.getElementById('review-data').textContent).redactions.findIndex(r => r.id === id)",
            f"{target.segment_id}:{target.start}:{target.end}",
        )
        ui.page.click(f"mark[data-r='{idx}'] button[data-a='reject']")
        ui.select(g_missed, "Moonbeam")
        ui.page.select_option("#mark-type", "PERSON")
        ui.page.check("#mark-known")
        ui.page.click("#mark-btn")
        decisions = ui.download("E2E Reviewer", tmp_path / "decisions.json")
        ARTIFACTS.mkdir(exist_ok=True)
        ui.page.screenshot(path=str(ARTIFACTS / "review_page_e2e.png"), full_page=True)
        assert ui.blocked == [] and all(u.startswith(("file://", "blob:")) for u in ui.requests)
    finally:
        ui.close()

    summary = apply_review(out, decisions, config)
    assert "1 rejected" in summary and "1 missed span(s) marked" in summary
    share_a = Transcript.load(layout.shareable("int-a") / "transcript.json")
    seg = next(s for s in share_a.segments if s.id == target.segment_id)
    assert target.text in seg.text, "the rejected replacement is restored"
    for iid in ("int-a", "int-b"):  # the missed name is gone from every interview that mentions it
        for f in layout.shareable(iid).rglob("*"):
            if f.is_file():
                assert "Moonbeam" not in f.read_text(encoding="utf-8", errors="ignore"), f
    for f in layout.shareable_root.glob("*"):
        if f.is_file() and f.suffix in (".txt", ".csv", ".html", ".json"):
            assert "Moonbeam" not in f.read_text(encoding="utf-8", errors="ignore"), f
    audit = [json.loads(x) for x in (layout.restricted_root / "audit_trail.jsonl").read_text().splitlines()]
    assert {a["event"] for a in audit} == {"review_applied", "decision", "list_addition"}
    assert all(a["reviewer"] == "E2E Reviewer" for a in audit)
    assert "reviewed by E2E Reviewer" in (layout.shareable_root / "audit_summary.csv").read_text()
    # The page was rewritten for the new state; the old decisions file is now refused.
    from pipeline.review import ReviewError

    with pytest.raises(ReviewError, match="another state"):
        apply_review(out, decisions, config)


# ---------------------------------------------------------------------------------------------
# Crafted decisions files: the page validates as apply-review does and never runs what it loads

PWNED = "window.__pwned = (window.__pwned || 0) + 1"
IMG = f'"><img src=x onerror="{PWNED}"><script>{PWNED}</script>'


def _good(**over) -> dict:
    d = {
        "format": "interview-pipeline/review-decisions",
        "version": 1,
        "interview_id": "int-a",
        "state_sha256": state_hash(RAW, REDS),
        "reviewer": "R",
        "decisions": [{"action": "reject", "id": f"1:{REDS[1].start}:{REDS[1].end}"}],
        "list_additions": [],
    }
    d.update(over)
    return d


CRAFTED = {
    "start as markup": {
        "decisions": [
            {
                "action": "add",
                "segment_id": 1,
                "start": IMG,
                "end": 5,
                "text": "My na",
                "entity_type": "PERSON",
            }
        ]
    },
    "entity type as markup": {
        "decisions": [
            {"action": "add", "segment_id": 1, "start": 0, "end": 2, "text": "My", "entity_type": IMG}
        ]
    },
    "segment id as markup": {
        "decisions": [
            {"action": "add", "segment_id": IMG, "start": 0, "end": 2, "text": "My", "entity_type": "PERSON"}
        ]
    },
    "offsets out of range": {
        "decisions": [
            {"action": "add", "segment_id": 1, "start": 0, "end": 999, "text": "My", "entity_type": "PERSON"}
        ]
    },
    "text does not match": {
        "decisions": [
            {"action": "add", "segment_id": 1, "start": 0, "end": 2, "text": IMG, "entity_type": "PERSON"}
        ]
    },
    "unknown id": {"decisions": [{"action": "accept", "id": IMG}]},
    "extra key": {"decisions": [{"action": "accept", "id": "1:11:22", "html": IMG}]},
    "action as markup": {"decisions": [{"action": IMG, "id": "1:11:22"}]},
    "decision not an object": {"decisions": [IMG]},
    "duplicate span": {
        "decisions": [{"action": "accept", "id": "1:11:22"}, {"action": "reject", "id": "1:11:22"}]
    },
    "list as markup": {"list_additions": [{"list": IMG, "term": "x"}]},
    "term on both lists": {
        "list_additions": [{"list": "known_names", "term": "Ab"}, {"list": "allow_list", "term": "ab"}]
    },
    "another interview": {"interview_id": "int-b"},
    "older state": {"state_sha256": "0" * 64},
    "version 9": {"version": 9},
    "unknown top key": {"onload": IMG},
    "reviewer not a string": {"reviewer": {"toString": IMG}},
}


def _load(ui: Page, path: Path) -> str:
    ui.page.evaluate("document.getElementById('msg').className = ''")
    ui.page.set_input_files("#load", str(path))
    ui.page.wait_for_selector("#msg.ok, #msg.err")
    return ui.page.get_attribute("#msg", "class")


def test_page_refuses_crafted_decisions_files_and_runs_nothing(
    browser, handmade: Path, tmp_path: Path
) -> None:
    [path] = write_review_pages(handmade)
    ui = Page(browser, path)
    try:
        before = ui.page.inner_html("#transcript")
        for n, (name, over) in enumerate(CRAFTED.items()):
            f = tmp_path / f"crafted-{n}.json"
            f.write_text(json.dumps(_good(**over)), encoding="utf-8")
            assert _load(ui, f) == "err", name
            assert ui.page.inner_text("#msg").startswith(("Not resumed", "That")), name
            assert ui.page.inner_html("#transcript") == before, f"{name}: the page changed"
        # Markup where the format allows free text (a list term, the reviewer) is shown as text.
        f = tmp_path / "text.json"
        f.write_text(
            json.dumps(_good(reviewer=IMG, list_additions=[{"list": "known_names", "term": IMG}])),
            encoding="utf-8",
        )
        assert _load(ui, f) == "ok"
        assert IMG in ui.page.inner_text("#list-adds")
        assert ui.page.input_value("#reviewer") == IMG
        assert "d-reject" in ui.page.get_attribute("mark[data-r='1']", "class")
        assert (
            ui.page.locator("img, script:not(#review-data):not([type])").count() <= 1
        )  # the page's own script
        assert ui.page.evaluate("window.__pwned") is None
        assert ui.errors == [] and ui.blocked == []
    finally:
        ui.close()


def test_csp_blocks_inline_script_but_runs_the_pages_own(browser, handmade: Path) -> None:
    [path] = write_review_pages(handmade)
    html = path.read_text(encoding="utf-8")
    assert "unsafe-inline" not in html and "'sha256-" in html
    ui = Page(browser, path)  # waits for data-ready: the page's own (hashed) script ran
    try:
        page = ui.page
        page.evaluate("""() => { window.__violations = [];
            document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective)); }""")
        # Its own style applies (hashed); injected script, event handlers and styles do not.
        assert (
            page.evaluate("getComputedStyle(document.querySelector('.restricted')).color")
            == "rgb(255, 255, 255)"
        )
        page.evaluate(
            f"""() => {{
              const s = document.createElement('script'); s.textContent = {json.dumps(PWNED)}; document.body.append(s);
              const d = document.createElement('div'); d.innerHTML = '<img src="data:," onerror="{PWNED}">'; document.body.append(d);
              const st = document.createElement('style'); st.textContent = 'body {{ color: rgb(1, 2, 3) }}'; document.head.append(st);
            }}"""
        )
        _until(page, "window.__violations.length >= 2")
        assert page.evaluate("window.__pwned") is None
        assert page.evaluate("getComputedStyle(document.body).color") != "rgb(1, 2, 3)"
        assert ui.blocked == []
    finally:
        ui.close()


# ---------------------------------------------------------------------------------------------
# Listen, correct, approve: a real recording beside the page, corrections applied end to end

RECORDING = Path(__file__).resolve().parents[1] / ".." / "shared" / "eval" / "speakers" / "sample.wav"


def _timed(i: int, t0: float, speaker: str, text: str, low: tuple[str, ...] = ()) -> Segment:
    words, t = [], t0
    for w in text.split(" "):
        words.append(Word(round(t, 2), round(t + 0.4, 2), " " + w, 0.3 if w in low else 0.95, speaker))
        t += 0.45
    return Segment(i, t0, round(t, 2), text, speaker, words)


def _listen_interview(tmp_path: Path) -> tuple[Path, Path]:
    """A JSON transcript (the ASR misheard a name in segment 3; segment 2 has the wrong speaker)."""
    t = Transcript(
        "int-a",
        "en",
        [
            _timed(0, 0.5, "S1", "Thank you for taking part. Could you tell me your name?"),
            _timed(1, 6.0, "S2", "My name is Anna Jensen and I live in Aarhus."),
            _timed(2, 12.0, "S1", "I have worked at the hospital for ten years."),
            _timed(3, 18.0, "S2", "I told honor yens and about it last week.", low=("honor", "yens", "and")),
            _timed(4, 24.0, "S1", "Thank you."),
        ],
        [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant")],
        30.0,
    )
    src = tmp_path / "src"
    src.mkdir()
    (src / "int-a.json").write_text(t.to_json(), encoding="utf-8")
    (src / "int-b.txt").write_text(
        "Interviewer: Hello.\nParticipant: Anna Jensen told me.\n", encoding="utf-8"
    )
    return src, tmp_path / "OUT"


def _until(page, expr: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until true (``wait_for_function`` evaluates strings inside the
    page, which the page's CSP forbids)."""
    import time

    end = time.monotonic() + timeout
    while not page.evaluate(expr):
        assert time.monotonic() < end, f"timed out waiting for {expr}"
        page.wait_for_timeout(50)


def _shareable_texts(root: Path) -> dict[str, str]:
    """Every shareable file's text (docx/qdpx: every member of the zip)."""
    import zipfile

    out = {}
    for f in root.rglob("*"):
        if not f.is_file():
            continue
        if zipfile.is_zipfile(f):
            with zipfile.ZipFile(f) as z:
                out[str(f)] = "".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist())
        else:
            out[str(f)] = f.read_text(encoding="utf-8", errors="ignore")
    return out


@pytest.mark.slow
def test_listen_correct_approve_apply_in_a_real_browser(browser, tmp_path: Path) -> None:
    import subprocess

    from pipeline.config import PipelineConfig
    from pipeline.export import WRITERS
    from pipeline.review import ReviewError, apply_review, interview_review_state
    from pipeline.runner import Coordinator

    src, out = _listen_interview(tmp_path)
    config = PipelineConfig.model_validate({"export": {"formats": sorted(WRITERS)}})
    outcomes = Coordinator(out, config, progress=False).run(sorted(src.iterdir()), transcripts=True)
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    layout = Layout(out)
    # The interview's recording, where the ingest stage would have put it (16 kHz mono); without the
    # eval recording, 30 s of generated noise (the page's mechanics do not depend on the words).
    src_args = (
        ["-i", str(RECORDING)] if RECORDING.is_file() else ["-f", "lavfi", "-i", "anoisesrc=a=0.05:d=30"]
    )
    subprocess.run(["ffmpeg", "-v", "error", "-y", *src_args, "-ac", "1", "-ar", "16000",
                    str(layout.restricted("int-a") / "audio.wav")], check=True)  # fmt: skip
    raw0, reds0 = load_interview(layout, "int-a")
    person = {r.segment_id: r.replacement for r in reds0 if r.text == "Anna Jensen"}
    assert 1 in person, "the detector must find the name in segment 1"
    assert interview_review_state(out, "int-a") == "draft"

    [path] = write_review_pages(out, interview="int-a")
    assert (layout.restricted("int-a") / "review_audio.mp3").is_file()
    ui = Page(browser, path)
    page = ui.page
    try:
        page.wait_for_selector("html[data-audio-ready='1']")
        assert page.locator("#player").is_visible()
        page.wait_for_selector("html[data-low-words='3']", state="attached")  # the unsure words
        # Play segment 1 from its start: the clock moves on from 6 s and a word of it lights up.
        page.click("#g1 button[data-p='play']")
        _until(page, "document.getElementById('audio').currentTime > 6.5")
        _until(page, "(document.documentElement.dataset.nowWord || '').startsWith('1:')")
        page.keyboard.press("Space")  # pause
        _until(page, "document.getElementById('audio').paused")
        t = page.evaluate("document.getElementById('audio').currentTime")
        assert 6.0 <= t < 12.0
        page.keyboard.press("ArrowDown")  # next segment
        _until(page, "Math.abs(document.getElementById('audio').currentTime - 12.0) < 0.05")
        page.keyboard.press("-")
        assert page.evaluate("document.getElementById('audio').playbackRate") == 0.75

        # Correct the misheard name; give segment 2 to the participant; approve.
        page.click("#g3 button[data-p='edit']")
        page.fill("#g3 .editor textarea", "I told Anna Jensen about it last week.")
        page.click("#g3 .editor button[data-e='save']")
        page.click("#g2 button[data-p='edit']")
        page.select_option("#g2 .editor select", "S2")
        page.click("#g2 .editor button[data-e='save']")
        assert "Participant" in page.text_content("#g2 .spk")
        assert page.locator(".seg.edited").count() == 2
        page.check("#approve")
        dl = ui.download("E2E Reviewer", tmp_path / "decisions.json")

        # The page refuses a decisions file for another interview, or with a malformed correction.
        obj = json.loads(dl.read_text())
        assert obj["version"] == 2 and obj["approved"] is True
        assert [c["replaces"] for c in obj["corrections"]] == [[2], [3]]
        for n, bad in enumerate(
            [{**obj, "interview_id": "int-b"},
             {**obj, "corrections": [{"replaces": [1, 3], "segments": []}]},
             {**obj, "corrections": [{"replaces": [3], "segments": [{"id": 1, "text": "x"}]}]},
             {**obj, "corrections": [{"replaces": [3], "segments": [{"id": 3, "text": "x", "speaker": "S9"}]}]}]
        ):  # fmt: skip
            f = tmp_path / f"bad-{n}.json"
            f.write_text(json.dumps(bad), encoding="utf-8")
            assert _load(ui, f) == "err", n
        assert ui.errors == []
        assert ui.blocked == [] and all(u.startswith(("file://", "blob:")) for u in ui.requests), ui.requests
        assert any(u.endswith("/review_audio.mp3") for u in ui.requests)
    finally:
        ui.close()

    summary = apply_review(out, dl, config)
    assert "Transcript corrected: 1 segment(s) edited" in summary and "Approved." in summary
    rdir = layout.restricted("int-a")
    raw = Transcript.load(rdir / "transcript.json")
    original = Transcript.load(rdir / "transcript.original.json")
    assert raw.segments[3].text == "I told Anna Jensen about it last week."
    assert original.segments[3].text == raw0.segments[3].text  # the ASR output kept beside it
    assert raw.segments[2].speaker == "S2"
    # Word times: unchanged words keep theirs; the new ones lie between "told" and "about".
    old = {w.text.strip(): w for w in raw0.segments[3].words}
    new = raw.segments[3].words
    assert [w.text.strip() for w in new] == "I told Anna Jensen about it last week.".split()
    assert (new[1].start, new[1].end) == (old["told"].start, old["told"].end)
    assert (new[4].start, new[4].end) == (old["about"].start, old["about"].end)
    assert old["told"].end <= new[2].start < new[3].end <= old["about"].start

    # The corrected name is pseudonymised, with the pseudonym it has elsewhere, in every export.
    _, reds = load_interview(layout, "int-a")
    fixed = [r for r in reds if r.segment_id == 3 and "Jensen" in r.text]
    assert fixed and fixed[0].replacement == person[1]
    share = Transcript.load(layout.shareable("int-a") / "transcript.json")
    assert person[1] in share.segments[3].text and share.segments[2].speaker == "S2"
    texts = _shareable_texts(layout.shareable_root)
    assert len(texts) > 8
    for name, text in texts.items():
        assert "Jensen" not in text and "honor yens" not in text, name
    assert interview_review_state(out, "int-a") == "approved"
    import contextlib
    import io

    from pipeline.cli import main as cli_main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cli_main(["status", str(out)])
    assert "review" in buf.getvalue().splitlines()[0]
    assert " approved " in next(ln for ln in buf.getvalue().splitlines() if ln.startswith("int-a"))
    summary_csv = (layout.shareable_root / "audit_summary.csv").read_text()
    assert summary_csv.splitlines()[1].startswith("int-a,approved,")
    audit = [json.loads(x) for x in (layout.restricted_root / "audit_trail.jsonl").read_text().splitlines()]
    assert {"correction", "approved"} <= {a["event"] for a in audit}
    assert not any("Anna" in json.dumps(a) for a in audit if a["event"] in ("correction", "approved"))
    # A later `run` keeps the correction (the speakers stage is not redone over it).
    Coordinator(out, config, progress=False).run(sorted(src.iterdir()), transcripts=True)
    assert Transcript.load(rdir / "transcript.json").segments[3].text == raw.segments[3].text
    with pytest.raises(ReviewError, match="another state"):
        apply_review(out, dl, config)


def test_split_merge_delete_and_markers_make_groups_apply_review_accepts(
    browser, handmade: Path, tmp_path: Path
) -> None:
    """The page's corrections (split, merge, delete, [inaudible], overlap) become groups the Python side
    accepts and applies as shown; resuming the file gives the same file again."""
    from pipeline.review.corrections import apply_corrections
    from pipeline.review.fileformat import parse

    [path] = write_review_pages(handmade)
    ui = Page(browser, path)
    page = ui.page
    try:
        # Split segment 1 after "Jensen", merge segment 2 into 3 (deleting the hostile tail first), delete 0.
        page.click("#g1 button[data-p='edit']")
        page.evaluate("() => { const t = document.querySelector('#g1 .editor textarea'); "
                      "t.selectionStart = t.selectionEnd = t.value.indexOf(' and I live'); }")  # fmt: skip
        page.click("#g1 .editor button[data-e='split']")
        assert page.locator("#transcript .seg").count() == 5
        page.click("#g3 button[data-p='edit']")
        page.fill("#g3 .editor textarea", "And who looks after Peter?")
        page.evaluate("() => { const t = document.querySelector('#g3 .editor textarea'); "
                      "t.selectionStart = t.selectionEnd = t.value.length; }")  # fmt: skip
        page.click("#g3 .editor button[data-e='inaudible']")
        page.check("#g3 .editor input[type='checkbox']")
        page.click("#g3 .editor button[data-e='merge']")
        page.click("#g0 button[data-p='edit']")
        page.click("#g0 .editor button[data-e='delete']")
        texts = page.locator("#transcript .seg .txt").all_text_contents()
        assert texts[0] == "My name is Anna Jensen" and texts[1] == "and I live in Aarhus."
        assert texts[2].startswith("And who looks after Peter? [inaudible] My sister does")
        assert page.locator("#transcript .seg.overlap").count() == 1
        first = json.loads(ui.download("R", tmp_path / "d1.json").read_text())
        ui.page.set_input_files("#load", str(tmp_path / "d1.json"))
        ui.page.wait_for_selector("#msg.ok")
        again = json.loads(ui.download("R", tmp_path / "d2.json").read_text())
        assert ui.errors == [] and ui.blocked == []
    finally:
        ui.close()
    assert again["corrections"] == first["corrections"]
    assert [g["replaces"] for g in first["corrections"]] == [[0], [1], [2, 3]]
    assert first["corrections"][0]["segments"] == []
    assert [s["id"] for s in first["corrections"][1]["segments"]] == [1, 4]
    raw, reds = load_interview(Layout(handmade), "int-a")
    f = parse(first)
    review = validate(tmp_path / "d1.json", first, "x", raw, reds, state_hash(raw, reds), ("PERSON",), {})
    fixed = apply_corrections(raw, f.corrections)
    assert review.corrected is not None and [s.id for s in fixed.segments] == [1, 4, 2]
    assert [s.text for s in fixed.segments[:2]] == ["My name is Anna Jensen", "and I live in Aarhus."]
    assert fixed.segments[2].overlap and fixed.segments[2].text.endswith("call 555 0123.")
    # Word times of the split: each part keeps its words' times.
    assert fixed.segments[0].words[-1].end == RAW.segments[1].words[4].end
    assert fixed.segments[1].start == RAW.segments[1].words[5].start
