"""The review page as a file: self-contained, data embedded safely, written where it belongs."""

from __future__ import annotations

import json
import re
import stat
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.review import ReviewError, state_hash, write_review_pages
from pipeline.review.page import embed_json, flags_for, page_data
from pipeline.schema import Redaction, Segment, Speaker, Transcript
from pipeline.store import Layout, atomic_write_json, atomic_write_text

HOSTILE = 'He typed </script><script>alert(1)</script> and <!-- then &amp; "quotes" \u2028 done'


def _write(out: Path, raw: Transcript, reds: list[Redaction]) -> None:
    layout = Layout(out)
    layout.create()
    atomic_write_text(layout.restricted(raw.interview_id) / "transcript.json", raw.to_json())
    atomic_write_json(layout.restricted(raw.interview_id) / "redactions.json", [r.to_dict() for r in reds])


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    raw = Transcript(
        "int-x",
        "en",
        [
            Segment(0, 0.0, 2.0, "Hello Anna Jensen 😀 from Aarhus.", "S2"),
            Segment(1, 62.5, 65.0, HOSTILE, "S1"),
        ],
        [Speaker("S1", "Interviewer"), Speaker("S2", "Participant")],
    )
    reds = [
        Redaction(0, 6, 17, "Anna Jensen", "PERSON", 0.91, "spacy_ner", "[PERSON_1]"),
        Redaction(0, 25, 31, "Aarhus", "LOCATION", 0.3, "name_gazetteer", "[PLACE_1]"),
    ]
    assert raw.segments[0].text[25:31] == "Aarhus"
    _write(tmp_path / "OUT", raw, reds)
    return tmp_path / "OUT"


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def test_page_is_self_contained_and_data_survive_hostile_text(out: Path) -> None:
    [page] = write_review_pages(out)
    assert page == out / "restricted" / "int-x" / "review.html"
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    html = page.read_text(encoding="utf-8")
    p = _Collector()
    p.feed(html)
    # Exactly two scripts (data + code), both inline; no external resource of any kind.
    scripts = [a for t, a in p.tags if t == "script"]
    assert scripts == [{"type": "application/json", "id": "review-data"}, {}]
    for tag, attrs in p.tags:
        assert tag not in ("link", "img", "iframe", "object", "embed", "base")
        for name in ("src", "href", "action", "srcset"):
            assert name not in attrs, f"<{tag} {name}=...> would load something"
    assert not re.search(r"https?://|//cdn|@import", html, re.I)
    assert not re.search(r"\burl\(", html), "CSS url() would load something"
    assert "default-src 'none'" in html
    # The JSON block holds the transcript exactly, the hostile text did not end it early.
    data = json.loads(p.scripts[0])
    assert data["segments"][1][4] == HOSTILE
    assert data["segments"][1][3] == "Interviewer"
    assert html.count("</script>") == 2


def test_page_data_offsets_flags_and_hash(out: Path) -> None:
    from pipeline.review.common import load_interview

    raw, reds = load_interview(Layout(out), "int-x")
    data = page_data(raw, reds, None, low_score=0.6)
    assert data["state_sha256"] == state_hash(raw, reds)
    person, place = data["redactions"]
    assert (person["s"], person["e"], person["fl"]) == (6, 17, [])
    # After the emoji, JavaScript (UTF-16) offsets are one more than Python's code points.
    assert (place["s"], place["e"], place["fl"]) == (26, 32, ["low", "list"])
    assert "PERSON" in data["entity_types"] and data["last_review"] is None


@pytest.mark.parametrize(
    "score, recognizer, flags",
    [
        (0.9, "spacy_ner", []),
        (0.59, "spacy_ner", ["low"]),
        (0.95, "known_names", ["list"]),
        (0.95, "Fuzzy known name", ["list"]),
        (0.2, "name_gazetteer", ["low", "list"]),
    ],
)
def test_flags(score: float, recognizer: str, flags: list[str]) -> None:
    assert flags_for(Redaction(0, 0, 1, "x", "PERSON", score, recognizer, "y"), 0.6) == flags


def test_embed_json_never_contains_markup_breakers() -> None:
    text = embed_json({"t": "</script><!-- & \u2028"})
    assert not set("<>&\u2028") & set(text)
    assert json.loads(text) == {"t": "</script><!-- & \u2028"}


def test_unknown_interview_and_empty_folder_are_errors(out: Path, tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="no pseudonymised interview"):
        write_review_pages(out, interview="nope")
    with pytest.raises(ReviewError, match="no pseudonymised interviews"):
        write_review_pages(tmp_path / "empty")


def test_review_page_also_writes_shareable_summary(out: Path) -> None:
    write_review_pages(out, interview="int-x")
    summary = (out / "shareable" / "audit_summary.csv").read_text()
    assert summary.splitlines()[1].startswith("int-x,draft,not reviewed,")
    assert "Anna" not in summary and "Aarhus" not in summary
