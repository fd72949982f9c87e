"""Interview ids: what shareable/ shows of each recording's name (pipeline.runner.assign_ids)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.deid.config import DeidentifyConfig
from pipeline.runner import RESERVED_IDS, assign_ids, stem_names_a_person
from pipeline.store import Layout, Manifest


@pytest.fixture()
def manifest(tmp_path) -> Manifest:
    layout = Layout(tmp_path / "out")
    layout.create()
    return Manifest.load(layout)


def _files(tmp_path: Path, *names: str) -> list[Path]:
    out = []
    for n in names:
        p = tmp_path / "in" / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        out.append(p)
    return out


@pytest.mark.parametrize("name", sorted(RESERVED_IDS - {"_project"}))
def test_an_output_name_is_never_an_id(tmp_path, manifest, name):
    (job,) = assign_ids(_files(tmp_path, f"{name}.mp3"), manifest)
    assert job.interview_id == f"{name}-2"


def test_ids_from_file_names_are_kept_across_runs_and_do_not_collide(tmp_path, manifest):
    files = _files(tmp_path, "Interview 07.mp3", "interview_07.wav", "Ünïcødé ïd.m4a")
    first = [j.interview_id for j in assign_ids(files, manifest)]
    assert first == ["interview-07", "interview-07-2", "unicode-id"]
    # a new file joins; the others keep theirs whatever the order
    files2 = [*_files(tmp_path, "a.mp3"), *reversed(files)]
    second = {j.source: j.interview_id for j in assign_ids(files2, manifest)}
    assert [second[str(f.resolve())] for f in files] == first
    assert second[str(files2[0].resolve())] == "a"


def test_neutral_ids_number_the_new_files_in_order(tmp_path, manifest):
    files = _files(tmp_path, "Anna Jensen.mp3", "b.mp3")
    assert [j.interview_id for j in assign_ids(files, manifest, mode="neutral")] == [
        "interview-001",
        "interview-002",
    ]
    more = _files(tmp_path, "c.mp3")
    assert [j.interview_id for j in assign_ids(files + more, manifest, mode="neutral")] == [
        "interview-001",
        "interview-002",
        "interview-003",
    ]


def test_only_names_that_name_a_person_become_neutral(tmp_path, manifest):
    files = _files(tmp_path, "Anna Jensen.mp3", "p07.mp3", "okafor.mp3")
    ids = [
        j.interview_id
        for j in assign_ids(files, manifest, names_a_person=lambda s: s.lower() in ("anna jensen", "okafor"))
    ]
    assert ids == ["interview-001", "p07", "interview-002"]


@pytest.fixture(scope="module")
def finds_person():
    from pipeline.deid.engine import Deidentifier

    return Deidentifier(DeidentifyConfig()).finds_person


@pytest.mark.parametrize(
    ("stem", "known", "expected"),
    [
        # known names: any part of one, whatever the case and separators
        ("P07 2024-03-14", ["Anna Jensen"], False),
        ("jensen_followup", ["Anna Jensen"], True),
        ("ANNA-2", ["Anna Jensen"], True),
        ("de_la_cruz", ["María de la Cruz"], True),
        # found by the detectors, written as is or capitalised
        ("Anna Jensen 2024-03-14", [], True),
        ("anna_jensen", [], True),
        ("okafor_followup", [], True),
        ("interview-sarah-2", [], True),
        ("Interview with Dr Okafor", [], True),
        # names researchers give recordings
        ("interview_01", [], False),
        ("P07 2024-03-14", [], False),
        ("participant_12_followup", [], False),
        ("site-a_p03", [], False),
        ("zoom_0314_final", [], False),
        ("Recording 12", [], False),
        ("clinic_north", [], False),
        ("k2", [], False),
        ("K1 a", [], False),
    ],
)
def test_which_file_names_name_a_person(finds_person, stem, known, expected):
    assert stem_names_a_person(stem, known, finds_person) is expected


def test_a_per_interview_setting_for_no_interview_is_reported_without_its_key(tmp_path):
    from pipeline.cli import main

    src = tmp_path / "p07.txt"
    src.write_text("Interviewer: Hello.\nParticipant: Hi, I live in Bristol.\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "deidentify:\n  interviews:\n    p07: {known_names: [Bo]}\n    anna-jensen: {known_names: [Anna]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["deidentify", str(src), "--out", str(out), "--config", str(cfg), "--no-progress"]) == 0
    log = "".join(p.read_text(encoding="utf-8") for p in (out / "logs").glob("*.log"))
    assert (
        "1 key(s) under deidentify.interviews match no interview id of this output folder "
        "(`interview-pipeline status OUT` lists the ids); those settings are not used"
    ) in log
    assert "speakers.interviews" not in log
    assert "anna" not in log.lower()
