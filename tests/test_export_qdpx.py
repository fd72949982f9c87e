"""The REFI-QDA export: schema-valid, one project for the run, round-trips speakers, texts and times."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from lxml import etree

from pipeline.export import WRITERS, ExportConfig, ExportError, read_qdpx
from pipeline.schema import Segment, Speaker, Transcript
from pipeline.stages.export import run

REPO = Path(__file__).resolve().parents[1]
XSD = REPO.parent / "shared" / "refi" / "Project-mrt2019.xsd"
NS = "{urn:QDA-XML:project:1.0}"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    if not XSD.exists():
        pytest.skip(f"REFI-QDA schema missing: {XSD} (see ../shared/refi/README.md)")
    return etree.XMLSchema(etree.parse(str(XSD)))


@pytest.fixture
def recording(tmp_path) -> Path:
    """A short WAV made here (the content does not matter, only that it travels intact)."""
    path = tmp_path / "rec.wav"
    sf.write(path, (np.sin(np.arange(16000) / 5) * 0.1).astype(np.float32), 16000)
    return path


def interview(iid: str, texts: list[str]) -> Transcript:
    segs = [
        Segment(n, 1.5 * n + 0.123, 1.5 * n + 1.377, text, f"S{n % 2 + 1}") for n, text in enumerate(texts)
    ]
    return Transcript(
        iid,
        "en",
        segs,
        [Speaker("S1", "Interviewer", "interviewer"), Speaker("S2", "Participant 2", "participant")],
    )


def project() -> list[Transcript]:
    return [
        interview(
            "int-01", ["How did it start?", "It started in May.", "And then?", "Then we moved: twice."]
        ),
        interview("int-02", ["Hello", "Grüße 😀 & <b>", "", "# 10:30 tab\there", "end"]),
    ]


def qdpx(transcripts, **cfg) -> bytes:
    audio = cfg.pop("audio_paths", None)
    return WRITERS["qdpx"]().render(transcripts, ExportConfig(formats=["qdpx"], **cfg), audio)


def qde(data: bytes) -> etree._Element:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return etree.fromstring(zf.read("project.qde"))


def assert_round_trip(data: bytes, transcripts: list[Transcript]) -> None:
    back = read_qdpx(data)
    assert list(back.interviews) == [t.interview_id for t in transcripts]
    for t in transcripts:
        segs = [s for s in t.segments if " ".join(s.text.split())]
        got = back.interviews[t.interview_id].segments
        assert [(g.speaker, g.speaker_id, g.text) for g in got] == [
            (t.speaker_label(s.speaker), s.speaker, " ".join(s.text.split())) for s in segs
        ]
        for g, s in zip(got, segs, strict=True):
            assert abs(g.start - s.start) <= 0.0005 and abs(g.end - s.end) <= 0.0005


@pytest.mark.parametrize(
    "transcripts",
    [project(), [interview("one", ["Only one segment."])], [Transcript("empty", "en")], []],
    ids=["two-interviews", "one-segment", "no-segments", "no-interviews"],
)
def test_project_qde_is_valid_against_the_refi_schema(schema, transcripts):
    schema.assertValid(qde(qdpx(transcripts)))


def test_project_with_audio_is_valid_against_the_refi_schema(schema, recording):
    data = qdpx(project(), include_audio_in_qdpx=True, audio_paths={"int-01": recording, "int-02": recording})
    schema.assertValid(qde(data))


def test_text_project_round_trips_speakers_texts_and_times():
    assert_round_trip(qdpx(project()), project())


def test_audio_project_round_trips_through_sync_points(recording):
    data = qdpx(project(), include_audio_in_qdpx=True, audio_paths={"int-01": recording, "int-02": recording})
    assert_round_trip(data, project())
    back = read_qdpx(data)
    assert {iv.kind for iv in back.interviews.values()} == {"audio"}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for iv in back.interviews.values():
            assert zf.read(iv.audio_entry) == recording.read_bytes()
            assert iv.audio_entry.endswith(".wav")


def test_all_interviews_share_one_project_with_a_case_per_speaker():
    root = qde(qdpx(project(), project_name="Library study"))
    assert root.get("name") == "Library study"
    sources = {s.get("guid"): s.get("name") for s in root.iter(f"{NS}TextSource")}
    assert sorted(sources.values()) == ["int-01", "int-02"]
    cases = {c.get("name"): c for c in root.iter(f"{NS}Case")}
    assert sorted(cases) == [
        "Interviewer (int-01)",
        "Interviewer (int-02)",
        "Participant 2 (int-01)",
        "Participant 2 (int-02)",
    ]
    for name, case in cases.items():
        (ref,) = case.findall(f"{NS}SourceRef")
        assert name.endswith(f"({sources[ref.get('targetGUID')]})")
        assert case.findall(f"{NS}SelectionRef")


def test_selections_point_at_the_segment_text_in_the_source_file():
    data = qdpx(project())
    root = qde(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        src = next(s for s in root.iter(f"{NS}TextSource") if s.get("name") == "int-02")
        text = zf.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
    sels = src.findall(f"{NS}PlainTextSelection")
    spans = [text[int(s.get("startPosition")) : int(s.get("endPosition"))] for s in sels]
    assert spans == ["Hello", "Grüße 😀 & <b>", "# 10:30 tab here", "end"]  # code points, emoji counts 1
    assert text.splitlines()[0] == "Interviewer: Hello"


def test_audio_stays_out_unless_asked_for(tmp_path, recording):
    audio = {"int-01": recording}
    run(project(), tmp_path / "default", ExportConfig(formats=["qdpx"]), audio)
    back = read_qdpx(tmp_path / "default" / "project.qdpx")
    assert {iv.kind for iv in back.interviews.values()} == {"text"}
    assert not any(n.endswith(".wav") for n in back.entries)


def test_writer_ignores_recordings_unless_the_config_asks_for_them(recording):
    back = read_qdpx(qdpx(project(), audio_paths={"int-01": recording}))
    assert {iv.kind for iv in back.interviews.values()} == {"text"}


def test_interview_without_a_recording_stays_text_when_audio_is_asked_for(recording):
    back = read_qdpx(qdpx(project(), include_audio_in_qdpx=True, audio_paths={"int-02": recording}))
    assert {k: iv.kind for k, iv in back.interviews.items()} == {"int-01": "text", "int-02": "audio"}


def test_missing_recording_file_is_an_error_naming_the_interview(tmp_path):
    with pytest.raises(ExportError, match="int-01"):
        qdpx(project(), include_audio_in_qdpx=True, audio_paths={"int-01": tmp_path / "gone.wav"})


def test_guids_follow_content_not_chance():
    def guids(data: bytes) -> dict[str, str]:
        return {s.get("name"): s.get("guid") for s in qde(data).iter(f"{NS}TextSource")}

    first, again = guids(qdpx(project())), guids(qdpx(project()))
    assert first == again
    changed = project()
    changed[1].segments[0].text = "Hi"
    other = guids(qdpx(changed))
    assert other["int-01"] == first["int-01"] and other["int-02"] != first["int-02"]


def test_written_project_is_identical_on_rerun(tmp_path, recording):
    cfg = ExportConfig(formats=["qdpx"], include_audio_in_qdpx=True)
    a = run(project(), tmp_path / "a", cfg, {"int-01": recording})[0].read_bytes()
    b = run(project(), tmp_path / "b", cfg, {"int-01": recording})[0].read_bytes()
    assert a == b


@pytest.mark.parametrize("audio", [False, True], ids=["text", "audio"])
def test_every_selection_is_coded_to_its_speakers_code_which_shares_the_case_guid(audio, recording):
    """QualCoder links a Case to text only through a Code with the Case's guid; a selection without
    a Coding arrives there as an empty annotation, so every selection has one, and its timespan."""
    transcripts = project()
    data = qdpx(
        transcripts, include_audio_in_qdpx=audio, audio_paths={"int-01": recording} if audio else None
    )
    root = qde(data)
    codes = {c.get("guid"): c.get("name") for c in root.iter(f"{NS}Code")}
    cases = {c.get("guid"): c for c in root.iter(f"{NS}Case")}
    assert set(codes) == set(cases)
    for g, case in cases.items():
        assert [r.get("targetGUID") for r in case.findall(f"{NS}CodeRef")] == [g]
        assert codes[g] == case.get("name")
    speaker_of = {
        ref.get("targetGUID"): g for g, case in cases.items() for ref in case.findall(f"{NS}SelectionRef")
    }
    selections = list(root.iter(f"{NS}PlainTextSelection")) + list(root.iter(f"{NS}TranscriptSelection"))
    assert len(selections) == len(speaker_of) == 8
    for sel in selections:
        (coding,) = sel.findall(f"{NS}Coding")
        assert coding.find(f"{NS}CodeRef").get("targetGUID") == speaker_of[sel.get("guid")]
        assert sel.findtext(f"{NS}Description") == sel.get("name")  # the timespan


def test_speakers_sharing_a_label_get_distinct_case_and_code_names(schema):
    t = interview("int-03", ["Hi.", "Hello.", "Bye."])
    t.speakers = [Speaker("S1", "Participant"), Speaker("S2", "Participant")]
    root = qde(qdpx([t]))
    schema.assertValid(root)
    names = sorted(c.get("name") for c in root.iter(f"{NS}Case"))
    assert names == ["Participant [S1] (int-03)", "Participant [S2] (int-03)"]
    assert sorted(c.get("name") for c in root.iter(f"{NS}Code")) == names
