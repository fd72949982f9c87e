"""Run the audio stages as Dask tasks: on a real cluster, or on a LocalCluster on this machine.

Each task is one interview's ingest -> transcribe -> speakers, the same function the local
executor runs. Workers write artefacts to the shared output folder with the same atomic writes;
the coordinator (the client process) alone writes the manifest, pseudonymises and exports, so a
run can be resumed by either executor.

A worker plugin (:class:`ModelCachePlugin`) sizes each worker's thread pools and loads the speech
model once per worker process; the model stays loaded for every task that worker runs. Threads
per worker follow the local rule, per host: ``cores // workers on that host`` (or the configured
``transcribe.cpu_threads``), so a run on two 1-thread workers decodes exactly like a local one.

A worker that dies (killed, out of memory) costs the interview it held: Dask reschedules it on
another worker up to ``distributed.scheduler.allowed-failures`` times, after which the interview is
reported as failed and the next run (with either executor) completes it.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from pipeline.config import PipelineConfig
from pipeline.runner import Job, Outcome, audio_config_json, resolve_workers, run_audio_stages_in_worker
from pipeline.stages.transcribe import default_threads

logger = logging.getLogger(__name__)

PLUGIN_NAME = "interview-pipeline-models"
CONNECT_TIMEOUT_KEY = "distributed.comm.timeouts.connect"  # Dask's setting (default 30s)

# Set in each worker process by ModelCachePlugin.setup: how many pipeline workers share its host.
_HOST_WORKERS: dict[str, int] = {}


class DaskExecutorError(OSError):
    """The Dask scheduler cannot be reached or its workers cannot run the pipeline."""


def host_of(address: str) -> str:
    """The host part of a Dask address (``tcp://10.0.0.5:40123`` -> ``10.0.0.5``)."""
    from distributed.comm import get_address_host

    return get_address_host(address)


def workers_per_host(addresses: Iterable[str]) -> dict[str, int]:
    """How many workers run on each host, from the workers' addresses."""
    return dict(Counter(host_of(a) for a in addresses))


class ModelCachePlugin(WorkerPlugin):
    """Dask worker plugin: sizes thread pools and loads the speech model once per worker process."""

    name = PLUGIN_NAME

    def __init__(self, config_json: str, workers_by_host: dict[str, int]):
        self.config_json = config_json
        self.workers_by_host = dict(workers_by_host)

    def setup(self, worker: Any = None) -> None:
        config = PipelineConfig.model_validate_json(self.config_json)
        host = host_of(worker.address) if worker is not None else "local"
        n = self.workers_by_host.get(host)
        if n is None:  # a worker on a host that joined after submission: assume it is alone there
            logger.info("worker on unlisted host; sizing threads as its host's only worker")
            n = 1
        _HOST_WORKERS["n"] = n
        threads = config.transcribe.cpu_threads or default_threads(n)
        logging.getLogger("pipeline").setLevel(logging.INFO)  # forwarded to the client (ids, counts)
        import torch  # the speakers stage's embedding model; Dask's nanny sets OMP_NUM_THREADS=1

        torch.set_num_threads(threads)
        from pipeline.stages import transcribe

        engine = transcribe.get_engine(config.transcribe, n)
        for key in [k for k, v in transcribe._ENGINES.items() if v is not engine]:
            del transcribe._ENGINES[key]  # a model from an earlier run on this cluster: free it

    def teardown(self, worker: Any = None) -> None:
        # The engine stays cached: a re-registration with the same config (the next run on this
        # cluster) finds it loaded; setup() drops any engine the new config does not use.
        return None


def run_interview_task(job: Job, out: str, config_json: str, prior: dict[str, Any]) -> Outcome:
    """The Dask task: one interview's audio stages, with the host's worker count for thread sizing."""
    return run_audio_stages_in_worker((job, out, config_json, prior, _HOST_WORKERS.get("n", 1)))


def _client(config: PipelineConfig):
    import dask
    from dask.distributed import Client, LocalCluster

    if config.run.executor == "dask":
        if not config.run.scheduler:
            raise ValueError("executor 'dask' needs a scheduler address (--scheduler tcp://HOST:PORT)")
        timeout = dask.config.get(CONNECT_TIMEOUT_KEY)
        try:
            return Client(config.run.scheduler, timeout=timeout), None
        except OSError as e:
            raise DaskExecutorError(
                f"cannot reach the Dask scheduler at {config.run.scheduler} within {timeout} ({type(e).__name__})"
            ) from e
    n = resolve_workers(config)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,  # one interview at a time per worker; its threads go to the model
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.WARNING,
    )
    return Client(cluster), cluster


def _wait_for_workers(client, config: PipelineConfig) -> list[str]:
    """Addresses of the connected workers; waits for at least one (a cluster may still be starting)."""
    import dask

    timeout = dask.config.get(CONNECT_TIMEOUT_KEY)
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError as e:
        raise DaskExecutorError(
            f"no Dask worker joined the scheduler {config.run.scheduler} within {timeout}"
        ) from e
    return list(client.scheduler_info(n_workers=-1).get("workers", {}))


def dask_results(
    jobs: list[Job], out: str, config: PipelineConfig, prior: Callable[[Job], dict[str, Any]]
) -> Iterator[Outcome]:
    """Run each interview's audio stages as a Dask task; yield outcomes as tasks finish.

    Tasks are submitted in id order, no more at a time than the cluster has worker threads, so a
    worker never holds an interview it is not working on (a killed worker costs one interview),
    and results come back roughly in the order the coordinator pseudonymises them.
    """
    client, cluster = _client(config)
    try:
        addresses = _wait_for_workers(client, config)
        by_host = workers_per_host(addresses)
        cfg_json = audio_config_json(config)  # no names or lists from the de-identification section
        logger.info(
            "dask: %d worker(s) on %d host(s), %d interview(s)", len(addresses), len(by_host), len(jobs)
        )
        try:
            client.register_plugin(ModelCachePlugin(cfg_json, by_host), name=PLUGIN_NAME)
        except Exception as e:  # a worker lacks the model package, the model is corrupt, ...
            reason = f"Dask workers could not load the speech model ({type(e).__name__}: {str(e)[:200]})"
            logger.error("dask: %s", reason)
            for job in jobs:
                yield Outcome(
                    job.interview_id, job.source, "failed", f"{Path(job.source).name}: {reason}", "transcribe"
                )
            return
        client.forward_logging("pipeline", level=logging.INFO)
        yield from _submit_throttled(client, jobs, out, cfg_json, prior)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _worker_threads(client) -> int:
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def _submit_throttled(
    client, jobs: list[Job], out: str, cfg_json: str, prior: Callable[[Job], dict[str, Any]]
) -> Iterator[Outcome]:
    from dask.distributed import as_completed

    token = uuid.uuid4().hex[:8]
    pending = list(jobs)
    running: dict[Any, Job] = {}
    done = as_completed()

    def refill() -> None:
        while pending and len(running) < _worker_threads(client):
            job = pending.pop(0)
            fut = client.submit(
                run_interview_task,
                job,
                out,
                cfg_json,
                prior(job),
                key=f"audio-{job.interview_id}-{token}",
                pure=False,
            )
            running[fut] = job
            done.add(fut)

    refill()
    for fut in done:
        job = running.pop(fut)
        try:
            outcome = fut.result()
        except Exception as e:  # KilledWorker, CommClosedError: only this interview is lost
            logger.warning("%s: Dask task lost (%s)", job.interview_id, type(e).__name__)
            outcome = Outcome(
                job.interview_id, job.source, "failed",
                f"{Path(job.source).name}: Dask worker lost ({type(e).__name__}); re-run to finish it", "ingest",
            )  # fmt: skip
        finally:
            fut.release()
        refill()
        yield outcome
