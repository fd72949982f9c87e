"""The artefact store: atomic writes, the lock, stale temp files, manifest freshness."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.store import (
    Layout,
    LockedError,
    Manifest,
    OutputLock,
    StageRecord,
    StoreError,
    atomic_write_text,
    slugify,
)


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a" / "f.json"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["f.json"]
    assert (p.stat().st_mode & 0o777) == 0o600


def test_full_disk_keeps_old_file_and_names_the_problem(tmp_path, monkeypatch):
    import errno

    p = tmp_path / "f.txt"
    atomic_write_text(p, "finished work")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StoreError, match=r"f\.txt: could not write \(no space left on the device\)"):
        atomic_write_text(p, "new")
    monkeypatch.undo()
    assert p.read_text() == "finished work"
    assert [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_second_lock_on_same_folder_is_refused_across_processes(tmp_path):
    with OutputLock(tmp_path):
        code = (
            "import sys; from pipeline.store import OutputLock, LockedError\n"
            f"try:\n OutputLock({str(tmp_path)!r}).acquire()\nexcept LockedError as e:\n print(e); sys.exit(3)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 3
        assert "another run" in proc.stdout and str(os.getpid()) in proc.stdout
    OutputLock(tmp_path).acquire().release()  # free again once released


def test_lock_is_released_when_holder_is_killed(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pipeline.store import OutputLock; import time; OutputLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    with pytest.raises(LockedError):
        OutputLock(tmp_path).acquire()
    proc.kill()
    proc.wait()
    OutputLock(tmp_path).acquire().release()


def test_stale_temp_files_are_removed(tmp_path):
    layout = Layout(tmp_path)
    layout.create()
    stale = layout.restricted("x") / ".transcript.json.tmp-123-abc"
    stale.parent.mkdir(parents=True)
    stale.write_text("partial")
    assert layout.remove_stale_temp_files() == 1
    assert not stale.exists()


def test_manifest_detects_changed_output(tmp_path):
    layout = Layout(tmp_path)
    layout.create()
    out = layout.restricted("x") / "t.json"
    atomic_write_text(out, "{}")
    m = Manifest(layout)
    m.set_stage("x", "transcribe", StageRecord("done", "in", "cfg", m.record_outputs([out])))
    assert m.is_fresh("x", "transcribe", "in", "cfg")
    assert not m.is_fresh("x", "transcribe", "other", "cfg")
    assert not m.is_fresh("x", "transcribe", "in", "other")
    out.write_text("{truncated")
    assert not m.is_fresh("x", "transcribe", "in", "cfg")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Interview 01 (Søren).mp3", "interview-01-soren-mp3"),
        ("ÆØÅ", "aeoa"),
        ("☎☎", "interview"),
        ("a--b", "a-b"),
        ("Zoë_Call", "zoe-call"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug
