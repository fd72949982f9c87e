"""Attacks on the pipeline's promises (issue 13, items 3-6, 8, 9, 11), through the real CLI.

Each case plants names (English and Danish) where an attacker or a careless user would put them: file
names, a transcript's provenance and speaker fields, configuration labels and keys, a voice-sample
file name. No planted value may appear in any shareable file, shareable path, log or console line.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from robust_helpers import TINY, LeakScanner, clean_env, cli, clip, manifest, sample

from pipeline.cli import PASSPHRASE_ENV, main

DANISH = "Interviewer: Hvordan har du det i dag?\nDeltager: Jeg har det godt, tak.\n"
ENGLISH = "Interviewer: How are you today?\nParticipant: I am well, thank you.\n"

# File names that name people; stems made of codes
NAMED_FILES = ("P01_Lotte_Friis.txt", "Pernille Vestergaard.txt", "Bjarne.json", "Søren Østergaard 03.txt")
CODE_FILES = {"INT-03.txt": "int-03", "participant_7.txt": "participant-7"}
# A JSON transcript that carries names in every field we do not produce
HOSTILE_JSON = {
    "schema_version": "1.0",
    "interview_id": "Bjarne Kristoffersen",
    "language": "Kirsten Damgaard",
    "duration": 4.0,
    "segments": [
        {"id": 0, "start": 0, "end": 2, "text": "How did it start?", "speaker": "Birthe Lund"},
        {"id": 1, "start": 2, "end": 4, "text": "Slowly, we called him wobbo.", "speaker": "S2",
         "words": [{"start": 2, "end": 3, "text": "Slowly,", "speaker": "Gunnar Thorsager"}]},
    ],
    "speakers": [{"id": "S2", "label": "Participant", "role": "Hanne Thygesen"}],
    "provenance": {"transcriber": "Mette Kjærsgaard", "notes": {"who": "Olivia Pemberton"}},
}  # fmt: skip
# Only the per-interview known names catch these (lower case, not dictionary names)
OVERRIDE_CONFIG = """\
deidentify:
  interviews:
    Pernille Vestergaard.txt: {known_names: [Pusle]}   # by the source file's name
    Bjarne: {known_names: [Wobbo]}                     # by its stem
    int-03: {known_names: [Kvisten]}                   # by id
"""
PLANTED = [
    "Lotte", "Friis", "Pernille", "Vestergaard", "Bjarne", "Kristoffersen", "Søren", "Østergaard",
    "Kirsten", "Damgaard", "Birthe", "Lund", "Gunnar", "Thorsager", "Hanne", "Thygesen", "Mette",
    "Kjærsgaard", "Olivia", "Pemberton", "pusle", "wobbo", "kvisten",
]  # fmt: skip


def _scan(out: Path, console: str, planted: list[str]) -> list:
    """Every hit of a planted value in shareable files and paths, logs and the console."""
    scanner = LeakScanner(planted)
    for p in sorted((out / "shareable").rglob("*")):
        rel = str(p.relative_to(out))
        scanner.scan_unit(f"path {rel}", rel.replace("-", " ").replace("_", " "))
        if p.is_file():
            scanner.scan_file(p, rel)
    for log in sorted((out / "logs").glob("*")):
        scanner.scan_file(log, f"logs/{log.name}")
    for n, line in enumerate(console.splitlines()):
        scanner.scan_unit(f"console line {n}", line)
    return sorted({(h.where, h.term) for h in scanner.hits})


def _umask0():
    os.umask(0)


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict:
    """One `deidentify` run, under umask 000, over named and coded files plus one nested JSON."""
    root = tmp_path_factory.mktemp("attack")
    inputs = root / "in"
    inputs.mkdir()
    (inputs / "P01_Lotte_Friis.txt").write_text(DANISH, encoding="utf-8")
    (inputs / "Pernille Vestergaard.txt").write_text(
        "Interviewer: Hvad kaldte de dig?\nDeltager: De kaldte mig altid pusle.\n", encoding="utf-8"
    )
    (inputs / "Bjarne.json").write_text(json.dumps(HOSTILE_JSON), encoding="utf-8")
    (inputs / "Søren Østergaard 03.txt").write_text(ENGLISH, encoding="utf-8")
    (inputs / "INT-03.txt").write_text(
        "Interviewer: Who helped?\nParticipant: Mostly kvisten, my neighbour.\n", encoding="utf-8"
    )
    (inputs / "participant_7.txt").write_text(ENGLISH, encoding="utf-8")
    (inputs / "p08.json").write_text(
        '{"schema_version": "1.0", "segments": ' + "[" * 50000 + "]" * 50000 + "}"
    )
    cfg = root / "c.yaml"
    cfg.write_text(OVERRIDE_CONFIG, encoding="utf-8")
    out = root / "OUT"
    files = sorted(str(p) for p in inputs.iterdir())
    r = subprocess.run(
        [sys.executable, "-m", "pipeline", "deidentify", *files, "--out", str(out), "--config", str(cfg),
         "--no-progress"],
        cwd=Path(__file__).resolve().parents[1], env=clean_env(root / "home"), capture_output=True,
        text=True, timeout=600, preexec_fn=_umask0,
    )  # fmt: skip
    return {"out": out, "run": r, "root": root, "config": cfg, "files": files}


def test_named_files_get_neutral_ids_and_codes_keep_theirs(batch):
    r, out = batch["run"], batch["out"]
    assert r.returncode == 1, r.stdout + r.stderr  # the nested file failed, the others did not
    m = manifest(out)["interviews"]
    by_file = {Path(rec["source"]).name: iid for iid, rec in m.items() if rec.get("source")}
    for name, iid in CODE_FILES.items():
        assert by_file[name] == iid
    assert sorted(by_file[n] for n in NAMED_FILES) == [f"interview-00{i}" for i in range(1, 5)]
    shown = sorted(p.name for p in (out / "shareable").iterdir() if p.is_dir())
    assert shown == sorted([*CODE_FILES.values(), *(by_file[n] for n in NAMED_FILES)])


def test_no_planted_value_in_shareable_paths_files_logs_or_console(batch):
    r, out = batch["run"], batch["out"]
    hits = _scan(out, r.stdout + r.stderr, PLANTED)
    assert not hits, hits[:10]


def test_status_maps_each_neutral_id_to_its_file_and_writes_nothing(batch):
    out = batch["out"]
    before = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*")}
    modes = {p: p.stat().st_mode for p in [out, *out.rglob("*")]}
    try:  # read-only for everyone (root ignores it; then the snapshot below is the check)
        for p in modes:
            p.chmod(stat.S_IMODE(modes[p]) & ~0o222)
        r = cli(["status", str(out)], env=clean_env(batch["root"] / "home"))
    finally:
        for p, mode in reversed(list(modes.items())):
            p.chmod(stat.S_IMODE(mode))
    assert r.returncode == 1, r.stdout + r.stderr  # p08 failed
    after = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in out.rglob("*")}
    assert after == before, sorted(set(after) ^ set(before))
    by_file = {
        Path(rec["source"]).name: iid for iid, rec in manifest(out)["interviews"].items() if rec.get("source")
    }
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines() if ln.strip()}
    for name in NAMED_FILES:
        assert rows[by_file[name]].rstrip().endswith(name), r.stdout


def test_per_interview_settings_apply_by_id_file_name_or_stem(batch):
    out = batch["out"]
    m = manifest(out)["interviews"]
    by_file = {Path(rec["source"]).name: iid for iid, rec in m.items() if rec.get("source")}
    for name, value in (
        ("Pernille Vestergaard.txt", "pusle"),
        ("Bjarne.json", "wobbo"),
        ("INT-03.txt", "kvisten"),
    ):
        reds = json.loads((out / "restricted" / by_file[name] / "redactions.json").read_text())["redactions"]
        assert any(d["text"].lower() == value and d["recognizer"] == "KnownNameRecognizer" for d in reds), (
            name
        )


def test_json_input_keeps_only_fields_the_pipeline_produces(batch):
    out = batch["out"]
    by_file = {
        Path(rec["source"]).name: iid for iid, rec in manifest(out)["interviews"].items() if rec.get("source")
    }
    t = json.loads((out / "shareable" / by_file["Bjarne.json"] / "transcript.json").read_text())
    assert t["interview_id"] == by_file["Bjarne.json"] and t["language"] is None
    assert set(t["provenance"]) == {"source", "deidentify"}
    ids = {s["id"] for s in t["speakers"]}
    assert ids == {"S1", "S2", "S3"} and {s["speaker"] for s in t["segments"]} <= ids
    assert all(s["role"] in ("interviewer", "participant", "unknown") for s in t["speakers"])
    undeclared = next(s for s in t["speakers"] if s["id"] == t["segments"][0]["speaker"])
    assert undeclared["label"].startswith("[PERSON_"), undeclared


def test_a_nested_transcript_fails_alone_with_a_one_line_reason(batch):
    r, out = batch["run"], batch["out"]
    line = next(ln for ln in r.stdout.splitlines() if "p08" in ln)
    assert "failed" in line and "nested too deeply" in line, r.stdout
    assert "Traceback" not in r.stderr and "RecursionError" not in r.stdout + r.stderr
    assert manifest(out)["interviews"]["participant-7"]["stages"]["deidentify"]["status"] == "done"


def test_umask_000_still_gives_private_folders_and_files(batch):
    out = batch["out"]
    loose = [
        (str(p.relative_to(out)), oct(stat.S_IMODE(p.stat().st_mode)))
        for p in [out, *out.rglob("*")]
        if stat.S_IMODE(p.stat().st_mode) & (0o077)
    ]
    assert not loose, loose[:10]


# ---------------------------------------------------------------------------------------------
# Configuration that would silently lose settings (item 4)


@pytest.mark.parametrize(
    ("text", "line", "said", "hidden"),
    [
        ("deidentify:\n  known_names: [Anna Jensen]\ntranscribe: {model: base}\ndeidentify:\n"
         "  known_names: [Søren Østergaard]\n", 4, "'deidentify' is given twice", None),
        ("deidentify:\n  known_names: [Lotte Friis]\n  allow_list: [Aarhus]\n  known_names: [Bjarne]\n",
         4, "'deidentify.known_names' is given twice", None),
        ("deidentify:\n  interviews:\n    Pernille Vestergaard.m4a: {known_names: [Pusle]}\n"
         "    Pernille Vestergaard.m4a: {known_names: [Wobbo]}\n", 4, "a key under deidentify.interviews",
         "Pernille"),
    ],
    ids=["two-sections", "two-lists", "two-interview-keys"],
)  # fmt: skip
def test_a_key_given_twice_is_an_error_naming_file_line_and_key(tmp_path, capsys, text, line, said, hidden):
    cfg = tmp_path / "study.yaml"
    cfg.write_text(text, encoding="utf-8")
    src = tmp_path / "p01.txt"
    src.write_text(ENGLISH, encoding="utf-8")
    out = tmp_path / "OUT"
    code = main(["deidentify", str(src), "--out", str(out), "--config", str(cfg), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{cfg}: line {line}: {said}" in err, err
    assert hidden is None or hidden not in err
    assert not (out / "shareable").exists()


def test_speakers_settings_keyed_by_file_apply_to_the_neutral_id(tmp_path):
    from pipeline.config import load_config
    from pipeline.runner import assign_ids, key_overrides
    from pipeline.store import Layout, Manifest

    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "speakers:\n  interviews:\n    Lotte Friis 2024.m4a: {num_speakers: 3}\n"
        "deidentify:\n  interviews:\n    lotte friis 2024: {known_names: [Pusle]}\n",
        encoding="utf-8",
    )
    src = tmp_path / "Lotte Friis 2024.m4a"
    src.write_bytes(b"x")
    layout = Layout(tmp_path / "OUT")
    layout.create()
    m = Manifest.load(layout)
    (job,) = assign_ids([src], m)
    assert job.interview_id == "interview-001"
    config, unmatched = key_overrides(load_config(cfg), m)
    assert unmatched == {"speakers": 0, "deidentify": 0}
    assert config.speakers.for_interview("interview-001").num_speakers == 3
    assert config.deidentify.known_names_for("interview-001") == ["Pusle"]


def test_a_per_interview_key_for_no_interview_is_refused_without_naming_it(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "deidentify:\n  interviews:\n    Birthe Lund.m4a: {known_names: [Birthe]}\n", encoding="utf-8"
    )
    src = tmp_path / "p02.txt"
    src.write_text(DANISH, encoding="utf-8")
    out = tmp_path / "OUT"
    code = main(["deidentify", str(src), "--out", str(out), "--config", str(cfg), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "1 key(s) under deidentify.interviews name no interview" in err, err
    assert _scan(out, err, ["Birthe", "Lund"]) == []
    assert not (out / "shareable" / "p02").exists()


# ---------------------------------------------------------------------------------------------
# Key protection (item 5)


@pytest.mark.parametrize("how", ["empty-file", "blank-file", "empty-env", "empty-prompt"])
def test_an_empty_passphrase_is_refused_and_no_key_is_written(tmp_path, capsys, monkeypatch, how):
    src = tmp_path / "p03.txt"
    src.write_text(DANISH, encoding="utf-8")
    out = tmp_path / "OUT"
    args = ["deidentify", str(src), "--out", str(out), "--no-progress"]
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    if how.endswith("file"):
        pf = tmp_path / "pass.txt"
        pf.write_text("" if how == "empty-file" else "  \n", encoding="utf-8")
        args += ["--passphrase-file", str(pf)]
    elif how == "empty-env":
        monkeypatch.setenv(PASSPHRASE_ENV, "")
    else:
        import getpass

        monkeypatch.setattr(getpass, "getpass", lambda prompt="": "")
        args.append("--ask-passphrase")
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "refusing to write the key unencrypted" in err, err
    assert not (out / "restricted" / "key.json").exists()
    assert not (out / "shareable").exists()


def test_the_key_store_refuses_an_empty_passphrase():
    from pipeline.deid.key import KeyPassphraseError, PseudonymKey

    for bad in ("", "   ", "\n"):
        with pytest.raises(KeyPassphraseError):
            PseudonymKey(bad)


# ---------------------------------------------------------------------------------------------
# Output folder misuse (item 8)


@pytest.mark.parametrize("part", ["shareable", "restricted", "logs"])
def test_an_output_folder_inside_another_ones_parts_is_refused(batch, tmp_path, capsys, part):
    src = tmp_path / "p04.txt"
    src.write_text(ENGLISH, encoding="utf-8")
    nested = batch["out"] / part / "new-study"
    code = main(["deidentify", str(src), "--out", str(nested), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and f"inside the {part}/ folder of another output folder" in err, err
    assert not nested.exists()


def _copy(batch, dest: Path) -> Path:
    out = dest / "OUT"
    shutil.copytree(batch["out"], out, symlinks=True)
    return out


def test_a_link_inside_the_output_folder_is_never_written_through(batch, tmp_path, capsys):
    out = _copy(batch, tmp_path)
    raw = out / "restricted" / "int-03" / "transcript.json"
    before = raw.read_bytes()
    shutil.rmtree(out / "shareable" / "int-03")
    (out / "shareable" / "int-03").symlink_to(out / "restricted" / "int-03", target_is_directory=True)
    cfg = tmp_path / "c.yaml"  # a changed setting: the stage would rewrite the shareable files
    cfg.write_text(OVERRIDE_CONFIG + "  allow_list: [neighbour]\n", encoding="utf-8")
    src = next(f for f in batch["files"] if f.endswith("INT-03.txt"))
    code = main(["deidentify", src, "--out", str(out), "--config", str(cfg), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "symbolic link inside the output folder" in err, err
    assert raw.read_bytes() == before


def test_a_linked_log_folder_is_refused_too(batch, tmp_path, capsys):
    out = _copy(batch, tmp_path)
    shutil.rmtree(out / "logs")
    (out / "logs").symlink_to(out / "shareable", target_is_directory=True)
    n_before = len(list((out / "shareable").iterdir()))
    assert main(["export", str(out), "--no-progress"]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert len(list((out / "shareable").iterdir())) == n_before


# ---------------------------------------------------------------------------------------------
# Crashes and limits (item 9)


def test_a_nested_decisions_file_is_a_one_line_error(batch, tmp_path, capsys):
    out = _copy(batch, tmp_path)
    decisions = tmp_path / "decisions-int-03.json"
    decisions.write_text('{"format": "x", "d": ' + "[" * 100000 + "]" * 100000 + "}", encoding="utf-8")
    code = main(["apply-review", str(out), str(decisions), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "nested too deeply" in err and len(err.strip().splitlines()) == 1, err


def test_a_nested_configuration_is_a_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("deidentify:\n  known_names: " + "[" * 20000 + "]" * 20000 + "\n", encoding="utf-8")
    src = tmp_path / "p07.txt"
    src.write_text(DANISH, encoding="utf-8")
    code = main(["deidentify", str(src), "--out", str(tmp_path / "OUT"), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and f"{cfg}: invalid configuration: nested too deeply" in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_a_million_segment_transcript_is_refused_with_its_reason_and_the_batch_goes_on(tmp_path, capsys):
    big = tmp_path / "p05.json"
    with open(big, "w", encoding="utf-8") as f:
        f.write('{"schema_version": "1.0", "interview_id": "x", "language": "en", "segments": [')
        f.write(",".join(f'{{"id":{i},"start":{i},"end":{i + 1},"text":"a"}}' for i in range(1_000_000)))
        f.write("]}")
    huge = tmp_path / "p06.json"  # over the size limit: refused before it is read
    with open(huge, "wb") as f:
        f.truncate(65 * 2**20)
    out = tmp_path / "OUT"
    code = main(["deidentify", str(big), str(huge), "--out", str(out), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 1
    assert "1,000,000 segments is over the limit of 100,000" in printed, printed
    assert "65 MiB is over the limit of 64 MiB" in printed, printed


# ---------------------------------------------------------------------------------------------
# A real run: configuration text and a voice sample's file name stay out of shareable (items 3, 6)


@pytest.mark.slow
def test_run_keeps_configured_labels_prompt_and_sample_name_out_of_shareable(tmp_path):
    one = sample("interview_01.mp3")
    src = clip(one, tmp_path / "Pernille Vestergaard interview.mp3", 10.4, 21.0)
    voice = clip(one, tmp_path / "birthe_lund_stemme.wav", 0.3, 10.0)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"transcribe:\n  verbatim: {{use_prompt: true, prompts: {{en: 'Umm, hej Kirsten Damgaard, uh...'}}}}\n"
        f"speakers:\n  interviewer_sample: {voice}\n  labels: {{interviewer: Mogens Kjær, participant: Olivia Pemberton}}\n"
        "  interviews:\n    Pernille Vestergaard interview: {num_speakers: 2}\n",
        encoding="utf-8",
    )
    out = tmp_path / "OUT"
    r = cli(
        ["run", str(src), "--out", str(out), "--config", str(cfg), *TINY], env=clean_env(tmp_path / "home")
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    planted = ["Pernille", "Vestergaard", "birthe", "lund", "stemme", "Kirsten", "Damgaard", "Mogens", "Kjær",
               "Olivia", "Pemberton"]  # fmt: skip
    hits = _scan(out, r.stdout + r.stderr, planted)
    assert not hits, hits[:10]
    raw = json.loads((out / "restricted" / "interview-001" / "transcript.json").read_text())
    assert raw["provenance"]["speakers"]["resolved"]["num_speakers"] == 2  # keyed by the file's stem
    shared = json.loads((out / "shareable" / "interview-001" / "transcript.json").read_text())
    options = shared["provenance"]["speakers"]["options"]
    assert options["interviewer_sample"] is True and options["labels"]["interviewer"] == "custom"
