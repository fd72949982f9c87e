"""No personal data where it must not be, after a full run of both sample interviews.

The run uses an encrypted key and verbose logging, then ``review``, ``apply-review`` (a reviewer
accepts every replacement of interview 1) and ``export`` of every format. Then every file under
``shareable/`` (inside .docx/.qdpx zips too), every log file and everything the CLI printed is
searched for every planted form of the reference files and every original value the key holds.
"""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path

import pytest
from robust_helpers import SAMPLES, TINY, LeakScanner, clean_env, cli, clip, planted_values, sample

from pipeline.deid.key import PseudonymKey, random_passphrase
from pipeline.export.registry import WRITERS

ALL_FORMATS = ",".join(WRITERS)


def _ok(r, what: str) -> None:
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stdout[-1500:]}\n{r.stderr[-3000:]}"


def _decisions(out: Path, iid: str, dest: Path) -> Path:
    from pipeline.review import state_hash
    from pipeline.review.common import load_interview
    from pipeline.review.decisions import FORMAT
    from pipeline.store import Layout

    raw, reds = load_interview(Layout(out), iid)
    obj = {
        "format": FORMAT,
        "version": 1,
        "interview_id": iid,
        "state_sha256": state_hash(raw, reds),
        "reviewer": "Leak Check",
        "decisions": [
            {"action": "accept", "id": f"{r.segment_id}:{r.start}:{r.end}"} for r in reds if r.segment_id >= 0
        ],
        "list_additions": [],
    }
    dest.write_text(json.dumps(obj), encoding="utf-8")
    return dest


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("leaks")
    out = root / "OUT"
    env = clean_env(root / "home")
    passphrase = random_passphrase()
    pf = root / "passphrase.txt"
    pf.write_text(passphrase + "\n", encoding="utf-8")
    audio = [sample("interview_01.mp3"), sample("interview_02.mp3")]
    printed: list[tuple[str, str]] = []

    def call(args: list[str], what: str) -> None:
        r = cli(args, env=env)
        printed.append((f"{what} stdout", r.stdout))
        printed.append((f"{what} stderr", r.stderr))
        _ok(r, what)

    call(["-v", "run", *map(str, audio), "--out", str(out), "--passphrase-file", str(pf), *TINY], "run")
    call(["-v", "review", str(out)], "review")
    decisions = _decisions(out, "interview-01", root / "decisions.json")
    call(["-v", "apply-review", str(out), str(decisions), "--passphrase-file", str(pf)], "apply-review")
    call(["-v", "export", str(out), "--format", ALL_FORMATS, "--passphrase-file", str(pf)], "export")
    call(["status", str(out)], "status")
    return {"out": out, "root": root, "printed": printed, "passphrase": passphrase}


def _key_originals(out: Path, passphrase: str) -> list[str]:
    key = PseudonymKey.load(out / "restricted" / "key.json", passphrase).to_dict()
    return sorted({o for rec in key["people"] + key["entries"] for o in rec["originals"]})


@pytest.mark.slow
def test_no_planted_value_in_shareable_files_logs_or_cli_output(full_run):
    out, root = full_run["out"], full_run["root"]
    planted = planted_values(sorted(SAMPLES.glob("interview_0*.reference.json")))
    originals = _key_originals(out, full_run["passphrase"])
    assert len(originals) >= 10, "the key holds too few originals for this check to mean much"
    scanner = LeakScanner.for_planted(planted, extra=originals)
    shareable = sorted(p for p in (out / "shareable").rglob("*") if p.is_file())
    formats = {p.suffix for p in shareable}
    assert {".txt", ".docx", ".qdpx", ".srt", ".vtt", ".json", ".csv"} <= formats, formats
    scanner.scan_tree(out / "shareable", out)
    logs = sorted((out / "logs").glob("*.log"))
    assert len(logs) >= 4
    scanner.scan_tree(out / "logs", out)
    for label, text in full_run["printed"]:
        # the test's own temporary path is not data ("pytest-42" is not the planted age 42)
        scanner.scan_text(f"printed by {label}", text.replace(str(root), "<tmp>"))
    report = {
        "files": scanner.files_scanned,
        "shareable_files": len(shareable),
        "log_files": len(logs),
        "printed_streams": len(full_run["printed"]),
        "bytes_scanned": scanner.bytes_scanned,
        "text_units": scanner.units_scanned,
        "search_terms": len(scanner.forms) + len(scanner.digit_strings),
        "hits": len(scanner.hits),
    }
    print("\nLEAKSCAN " + json.dumps(report))
    hits = sorted({(h.where, h.term, h.context) for h in scanner.hits})
    assert not hits, "planted values found:\n" + "\n".join(
        f"{w}: {t!r} in ...{c}..." for w, t, c in hits[:30]
    )


@pytest.mark.slow
def test_restricted_files_are_0600_and_folders_0700(full_run):
    out = full_run["out"]
    checked = 0
    for base in (out / "restricted", out / "logs"):
        for p in [base, *base.rglob("*")]:
            mode = stat.S_IMODE(p.stat().st_mode)
            want = 0o700 if p.is_dir() else 0o600
            assert mode == want, f"{p.relative_to(out)} has mode {oct(mode)}, not {oct(want)}"
            checked += 1
    assert checked > 10
    assert stat.S_IMODE((out / "restricted" / "key.json").stat().st_mode) == 0o600


@pytest.mark.slow
def test_the_key_never_reaches_shareable(full_run):
    out, passphrase = full_run["out"], full_run["passphrase"]
    wrapper = json.loads((out / "restricted" / "key.json").read_text())
    assert wrapper["encrypted"] is True
    secrets = [passphrase, wrapper["ciphertext"][:48], wrapper["ciphertext"][-48:], wrapper["kdf"]["salt"]]
    names = []
    for p in (out / "shareable").rglob("*"):
        if not p.is_file():
            continue
        names.append(p.name)
        data = p.read_bytes()
        blobs = [data]
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as z:
                names += [Path(n).name for n in z.namelist()]
                blobs += [z.read(n) for n in z.namelist()]
        for blob in blobs:
            for s in secrets:
                assert s.encode() not in blob, (
                    f"key material or passphrase in shareable/{p.relative_to(out / 'shareable')}"
                )
    assert not [n for n in names if n.lower().startswith("key") or "passphrase" in n.lower()], names
    # nor in what was printed or logged
    for label, text in full_run["printed"]:
        assert passphrase not in text, f"the passphrase was printed ({label})"
    for log in (out / "logs").glob("*"):
        assert passphrase not in log.read_text(encoding="utf-8", errors="replace"), log.name


@pytest.mark.parametrize(
    ("file_name", "config"),
    [
        ("Anna Jensen 2024-03-14.mp3", "deidentify:\n  known_names: [Anna Jensen]\n"),
        ("jensen_followup.mp3", "deidentify:\n  known_names: [Anna Jensen]\n"),
        ("anna_jensen_2024-03-14.mp3", "{}\n"),  # no list: the detectors find the name
    ],
    ids=["known-name", "known-surname-only", "detected"],
)
def test_a_recording_named_after_the_participant_does_not_name_them_in_shareable(tmp_path, file_name, config):
    src = clip(sample("interview_01.mp3"), tmp_path / file_name, 10.4, 21.0)
    cfg = tmp_path / "names.yaml"
    cfg.write_text(config, encoding="utf-8")
    out = tmp_path / "OUT"
    _ok(
        cli(
            ["run", str(src), "--out", str(out), "--config", str(cfg), *TINY],
            env=clean_env(tmp_path / "home"),
        ),
        "run",
    )
    scanner = LeakScanner(["Anna", "Jensen"])
    for p in sorted((out / "shareable").rglob("*")):
        scanner.scan_unit("path", str(p.relative_to(out)).replace("-", " "))
        if p.is_file():
            scanner.scan_file(p, str(p.relative_to(out)))
    for log in sorted((out / "logs").glob("*")):
        scanner.scan_file(log, f"logs/{log.name}")
    assert not scanner.hits, sorted({(h.where, h.term) for h in scanner.hits})[:10]
    assert [p.name for p in (out / "shareable").iterdir() if p.is_dir()] == ["interview-001"]
    # the researcher can still tell which recording it is
    status = cli(["status", str(out)], env=clean_env(tmp_path / "home"))
    row = next(ln for ln in status.stdout.splitlines() if ln.startswith("interview-001"))
    assert row.endswith(file_name), status.stdout


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scanner is not blind: a name split over Word runs, inside a zip, a phone by its digits and an
    age in text are found; times, cue numbers and numeric cells are not mistaken for the age."""
    import docx

    doc = docx.Document()
    para = doc.add_paragraph("Interviewer: thank you, ")
    para.add_run("An")
    para.add_run("na Jensen")
    doc.save(tmp_path / "leak.docx")
    (tmp_path / "leak.srt").write_text("42\n00:00:42,000 --> 00:00:43,420\nI was 42 then\n", encoding="utf-8")
    (tmp_path / "ok.srt").write_text(
        "42\n00:00:42,000 --> 00:00:43,420\nI was forty then\n", encoding="utf-8"
    )
    (tmp_path / "leak.csv").write_text("start,end,text\n42.0,43.42,call 202 555 0178\n", encoding="utf-8")
    (tmp_path / "ok.csv").write_text("start,end,text\n42,0.42,fine\n", encoding="utf-8")
    (tmp_path / "ok.json").write_text(json.dumps({"start": 42, "text": "0.42 is a time"}), encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "leak.qdpx", "w") as z:
        z.writestr("project.qde", '<?xml version="1.0"?><Project><Source name="x" note="Bristol"/></Project>')
    planted = [
        {"value": "Anna Jensen", "forms": ["Anna Jensen"]},
        {"value": "42", "forms": ["42"]},
        {"value": "Bristol", "forms": ["Bristol"]},
        {"value": "202 555 0178", "forms": ["202 555 0178"], "digits": "2025550178"},
    ]
    found = {}
    for p in sorted(tmp_path.iterdir()):
        s = LeakScanner.for_planted(planted)
        s.scan_file(p)
        found[p.name] = sorted({h.term for h in s.hits})
    assert found["leak.docx"] == ["Anna Jensen"]
    assert found["leak.srt"] == ["42"]
    assert found["leak.csv"] == ["202 555 0178", "2025550178"]
    assert found["leak.qdpx"] == ["Bristol"]
    assert found["ok.srt"] == found["ok.csv"] == found["ok.json"] == []


@pytest.mark.parametrize("stage", ["transcribe", "deidentify"])
def test_a_library_error_quoting_the_text_reaches_neither_the_summary_nor_the_log(
    tmp_path, monkeypatch, capsys, stage
):
    """Orchestration only (the stage is replaced): an exception whose message quotes a name is
    reported by its type and where it was raised, never by its message."""
    from pipeline.cli import main
    from pipeline.deid.engine import Deidentifier
    from pipeline.stages import transcribe

    def boom(*args, **kwargs):
        raise RuntimeError("could not handle 'Anna Jensen lives at 27 Willow Lane'")

    target = (transcribe, "run") if stage == "transcribe" else (Deidentifier, "deidentify")
    monkeypatch.setattr(*target, boom)
    src = clip(sample("interview_01.mp3"), tmp_path / "k1.mp3", 10.4, 21.0)
    out = tmp_path / "OUT"
    assert main(["run", str(src), "--out", str(out), "--workers", "1", *TINY]) == 1
    printed = capsys.readouterr()
    logs = "".join(p.read_text(encoding="utf-8") for p in (out / "logs").glob("*.log"))
    manifest_text = (out / "manifest.json").read_text(encoding="utf-8")
    assert f"{stage} failed (RuntimeError" in printed.out, printed.out
    assert "RuntimeError at " in logs and "boom" in logs, "the log names the type and the frames"
    for where, text in [
        ("stdout", printed.out),
        ("stderr", printed.err),
        ("log", logs),
        ("manifest", manifest_text),
    ]:
        assert "Jensen" not in text and "Willow" not in text, where
