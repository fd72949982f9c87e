"""Executors: the process pool and Dask give the local executor's outputs; workers keep their model;
a killed Dask worker costs only the interview it held; a run resumes with either executor."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, eval_path

from pipeline.cli import main
from pipeline.runner import size_workers
from pipeline.store import TMP_MARK

distributed = pytest.importorskip("distributed")

TINY = ["--model", "tiny.en", "--no-progress"]
AUDIO_STAGES = ("ingest", "transcribe", "speakers")
GB = 10**9


# ---------------------------------------------------------------------------------------------
# Pure sizing rules


@pytest.mark.parametrize(
    ("cores", "available_gb", "configured", "expected"),
    [
        (2, 20, 0, 2),  # this machine: a worker per core (measured faster, docs/throughput.md)
        (1, 20, 0, 1),
        (16, 64, 0, 16),
        (16, 6, 0, 2),  # memory-bound: 2.5 GB per worker
        (16, 1, 0, 1),  # never fewer than one
        (2, 20, 3, 3),  # the user's number wins
    ],
)
def test_worker_count_follows_cores_and_memory(cores, available_gb, configured, expected):
    assert size_workers(cores, available_gb * GB, configured) == expected


def test_workers_per_host_counts_workers_on_each_machine():
    from pipeline.distributed import workers_per_host

    addresses = ["tcp://10.0.0.5:4001", "tcp://10.0.0.5:4002", "tcp://10.0.0.6:4001", "tls://10.0.0.7:9000"]
    assert workers_per_host(addresses) == {"10.0.0.5": 2, "10.0.0.6": 1, "10.0.0.7": 1}


def test_workers_receive_no_names_from_the_deidentification_section():
    from pipeline.config import load_config
    from pipeline.runner import audio_config_json

    config = load_config(None, {"deidentify.known_names": ["Anna Jensen"], "transcribe.model": "tiny.en"})
    sent = audio_config_json(config)
    assert "Anna Jensen" not in sent
    assert '"model":"tiny.en"' in sent  # the audio stages' settings do travel


# ---------------------------------------------------------------------------------------------
# Helpers


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["interviews"]


def outputs(out: Path) -> dict[str, bytes]:
    """Every shareable file and raw transcript, byte for byte (artefacts hold no run timings)."""
    files = sorted((out / "shareable").rglob("*")) + sorted((out / "restricted").glob("*/transcript*.json"))
    return {str(p.relative_to(out)): p.read_bytes() for p in files if p.is_file()}


PSEUDONYM = re.compile(rb"\[([A-Z_]+?)_\d+\]")


def assert_same_outputs(out: Path, reference: Path, *, renumbered: bool = False) -> None:
    """Byte-equal outputs; with ``renumbered``, pseudonym numbers may differ ([PERSON_2] for [PERSON_1]).

    Pseudonyms are numbered in the order interviews are pseudonymised and never change once given,
    so an interview pseudonymised in a later run (its worker died) can shift the numbers of those
    after it. Then the raw transcripts must still be equal byte for byte, and the shareable texts
    equal once the numbers are taken out (zipped formats are not compared).
    """
    got, want = outputs(out), outputs(reference)
    assert sorted(got) == sorted(want)
    if renumbered:
        keep = [n for n in want if n.endswith((".json", ".txt")) or n.startswith("restricted/")]
        got = {n: PSEUDONYM.sub(rb"[\1]", got[n]) if n.startswith("shareable/") else got[n] for n in keep}
        want = {n: PSEUDONYM.sub(rb"[\1]", want[n]) if n.startswith("shareable/") else want[n] for n in keep}
    differing = [name for name in want if got[name] != want[name]]
    assert not differing, f"outputs differ from the local executor's: {differing}"


def _finished(out: Path, iid: str) -> dict[str, float]:
    return {s: r.get("finished_at") for s, r in _manifest(out)[iid]["stages"].items()}


@pytest.fixture(scope="module")
def inputs(sample_interviews, tmp_path_factory) -> list[Path]:
    """Three interviews: the two samples and a short clip (so one worker runs two of them)."""
    d = tmp_path_factory.mktemp("in")
    files = []
    for src in [*sample_interviews[:2], eval_path("asr", "jfk.flac")]:
        files.append(d / src.name)
        shutil.copy(src, files[-1])
    return files


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> Path:
    """The local executor's outputs: a process pool of two workers."""
    out = tmp_path_factory.mktemp("ref") / "out"
    assert main(["run", *map(str, inputs), "--out", str(out), "--workers", "2", *TINY]) == 0
    return out


@pytest.fixture(scope="module")
def cluster():
    """A real Dask cluster on loopback: a scheduler and two worker processes (one thread each).

    allowed_failures=0: a task whose worker dies is reported lost at once instead of being rerun
    on another worker (Dask's default reruns it up to three times).
    """
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"allowed_failures": 0},
    ) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# Executors


def test_process_pool_loads_the_model_once_per_worker_and_forwards_worker_logs(reference):
    log = next((reference / "logs").glob("run-*.log")).read_text()
    loads = log.count("pipeline.stages.transcribe: loaded faster-whisper model")
    assert 1 <= loads <= 2, log  # two workers, three interviews: one worker reused its model
    assert log.count("pipeline.stages.ingest:") == 3  # records from the worker processes reached the log
    interviews = {i: r for i, r in _manifest(reference).items() if i != "_project"}
    assert len(interviews) == 3
    assert all(r["stages"]["deidentify"]["status"] == "done" for r in interviews.values())


def test_dask_outputs_equal_the_local_executors(cluster, inputs, reference, tmp_path):
    out = tmp_path / "out"
    code = main(
        [
            "run",
            *map(str, inputs),
            "--out",
            str(out),
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            *TINY,
        ]
    )
    assert code == 0
    assert_same_outputs(out, reference)
    from dask.distributed import Client

    def engines():
        from pipeline.stages import transcribe

        return len(transcribe._ENGINES)

    with Client(cluster.scheduler_address) as client:
        assert set(client.run(engines).values()) == {1}  # each worker keeps exactly one loaded model


def _kill_worker_holding_an_interview(scheduler: str, proc: subprocess.Popen) -> str:
    """Wait until a worker runs an interview, SIGKILL that worker process; returns the interview id."""
    from dask.distributed import Client

    with Client(scheduler) as client:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            for worker, keys in client.processing().items():
                audio = [k for k in keys if str(k).startswith("audio-")]
                if audio:
                    time.sleep(1.0)  # into the ingest/transcribe stages
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    return str(audio[0])[len("audio-") :].rsplit("-", 1)[0]
            time.sleep(0.1)
    pytest.fail("no worker was seen running an interview")


def test_killed_worker_costs_only_its_interview_and_a_local_rerun_completes_it(
    cluster, inputs, reference, tmp_path
):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipeline", "run", *map(str, inputs), "--out", str(out), *TINY]
    cmd += ["--executor", "dask", "--scheduler", cluster.scheduler_address]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = _kill_worker_holding_an_interview(cluster.scheduler_address, proc)
    printed, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, printed
    m = _manifest(out)
    lost = [iid for iid, rec in m.items() if any(s.get("status") == "failed" for s in rec["stages"].values())]
    assert lost == [killed], printed
    assert "Dask worker lost" in printed
    others = [iid for iid in m if iid not in (killed, "_project")]
    assert len(others) == 2 and all(m[i]["stages"]["deidentify"]["status"] == "done" for i in others)
    before = {i: _finished(out, i) for i in others}

    # The re-run, with the other executor, completes the lost interview and redoes nothing else.
    assert main(["run", *map(str, inputs), "--out", str(out), "--workers", "1", *TINY]) == 0
    assert {i: _finished(out, i) for i in others} == before
    assert _manifest(out)[killed]["stages"]["deidentify"]["status"] == "done"
    assert not list(out.rglob(f"*{TMP_MARK}*"))
    assert_same_outputs(out, reference, renumbered=True)


def test_a_local_run_is_resumed_by_dask_local(inputs, reference, tmp_path):
    out = tmp_path / "out"
    first = inputs[0]
    assert main(["run", str(first), "--out", str(out), "--workers", "1", *TINY]) == 0
    iid = next(i for i in _manifest(out) if i != "_project")
    before = _finished(out, iid)
    assert (
        main(
            ["run", *map(str, inputs), "--out", str(out), "--executor", "dask-local", "--workers", "2", *TINY]
        )
        == 0
    )
    after = _finished(out, iid)
    assert {s: after[s] for s in AUDIO_STAGES} == {s: before[s] for s in AUDIO_STAGES}
    assert_same_outputs(out, reference)


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, capsys, sample_interviews):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code = main(["run", str(sample_interviews[0]), "--out", str(tmp_path / "o"), "--executor", "dask",
                     "--scheduler", "tcp://127.0.0.1:9", *TINY])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
