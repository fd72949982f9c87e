"""Interview ids: what shareable/ shows of each recording's name (pipeline.runner.assign_ids)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.runner import RESERVED_IDS, assign_ids, looks_like_code, stem_names_a_person
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
    assert job.interview_id not in RESERVED_IDS
    assert job.interview_id == (f"{name}-2" if name == "audio" else "interview-001")


def test_ids_from_file_names_are_kept_across_runs_and_do_not_collide(tmp_path, manifest):
    files = _files(tmp_path, "Interview 07.mp3", "interview_07.wav", "Ünïcødé ïd.m4a")
    first = [j.interview_id for j in assign_ids(files, manifest)]
    assert first == ["interview-07", "interview-07-2", "interview-001"]
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


def test_only_code_names_become_ids_and_a_known_name_never(tmp_path, manifest):
    files = _files(tmp_path, "Anna Jensen.mp3", "p07.mp3", "okafor.mp3", "INT-03.wav", "P01_Lotte_Friis.m4a")
    ids = [
        j.interview_id
        for j in assign_ids(files, manifest, names_a_person=lambda s: stem_names_a_person(s, ["Int Test"]))
    ]
    # INT-03 is a code, but "Int" is part of a known name here
    assert ids == ["interview-001", "p07", "interview-002", "interview-003", "interview-004"]


@pytest.mark.parametrize(
    ("stem", "expected"),
    [
        # codes researchers give recordings: kept as ids
        ("P01", True),
        ("INT-03", True),
        ("participant_7", True),
        ("interview-01", True),
        ("interview_02", True),
        ("2024-03-01_p3", True),
        ("P07 2024-03-14", True),
        ("participant_12_followup", True),
        ("site-a_p03", True),
        ("deltager3 fokusgruppe", True),
        ("Recording 12", True),
        ("k2", True),
        ("K1 a", True),
        # anything else may be a name: neutral
        ("P01_Lotte_Friis", False),
        ("Pernille Vestergaard", False),
        ("Bjarne", False),
        ("anna_jensen", False),
        ("interview-sarah-2", False),
        ("Interview with Dr Okafor", False),
        ("Ærø interview 1", False),
        ("Søren 03", False),
        ("eva2", False),
        ("AJ-2", False),
        ("clinic_north", False),
    ],
)
def test_which_file_names_are_codes(stem, expected):
    assert looks_like_code(stem) is expected


@pytest.mark.parametrize(
    ("stem", "known", "expected"),
    [
        ("P07 2024-03-14", ["Anna Jensen"], False),
        ("jensen_followup", ["Anna Jensen"], True),
        ("ANNA-2", ["Anna Jensen"], True),
        ("de_la_cruz", ["María de la Cruz"], True),
        ("p07", [], False),
    ],
)
def test_which_file_names_hold_a_known_name(stem, known, expected):
    assert stem_names_a_person(stem, known) is expected


def test_the_sample_interviews_keep_their_ids(tmp_path, manifest):
    samples = Path(__file__).resolve().parents[1] / "audio_samples"
    files = sorted(samples.glob("interview_0*.mp3"))
    assert [j.interview_id for j in assign_ids(files, manifest)] == ["interview-01", "interview-02"]


def test_a_per_interview_setting_for_no_interview_is_an_error_without_its_key(tmp_path):
    from pipeline.cli import main

    src = tmp_path / "p07.txt"
    src.write_text("Interviewer: Hello.\nParticipant: Hi, I live in Bristol.\n", encoding="utf-8")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "deidentify:\n  interviews:\n    p07: {known_names: [Bo]}\n    anna-jensen: {known_names: [Anna]}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["deidentify", str(src), "--out", str(out), "--config", str(cfg), "--no-progress"]) == 2
    log = "".join(p.read_text(encoding="utf-8") for p in (out / "logs").glob("*.log"))
    assert "anna" not in log.lower()
    assert not (out / "shareable" / "p07").exists()
