"""Run the audio stages as Dask tasks: on a real cluster, or on a LocalCluster on this machine.

Each task is one interview's ingest -> transcribe -> speakers, the same function the local
executor runs. Workers write artefacts to the shared output folder with the same atomic writes;
the coordinator (the client process) merges results into the manifest and pseudonymises, so a
run can be resumed by either executor. A worker plugin loads the speech model once per worker
process and keeps it for every task that worker runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from pipeline.config import PipelineConfig
from pipeline.runner import Job, Outcome, run_audio_stages_in_worker

logger = logging.getLogger(__name__)

PLUGIN_NAME = "interview-pipeline-models"


class ModelCachePlugin(WorkerPlugin):
    """Dask worker plugin: limits threads and warms the speech model once per worker process."""

    name = PLUGIN_NAME

    def __init__(self, config_json: str, threads: int):
        self.config_json = config_json
        self.threads = threads

    def setup(self, worker: Any = None) -> None:
        import torch

        torch.set_num_threads(self.threads)
        from pipeline.stages import transcribe

        config = PipelineConfig.model_validate_json(self.config_json)
        transcribe.get_engine(config.transcribe.model_copy(update={"cpu_threads": self.threads}))

    def teardown(self, worker: Any = None) -> None:
        from pipeline.stages import transcribe

        transcribe._ENGINES.clear()


def _client(config: PipelineConfig):
    from dask.distributed import Client, LocalCluster

    if config.run.executor == "dask":
        if not config.run.scheduler:
            raise ValueError("executor 'dask' needs a scheduler address (--scheduler tcp://HOST:PORT)")
        return Client(config.run.scheduler, timeout="30s"), None
    n = config.run.workers or max(1, (os.cpu_count() or 1) // 2)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.WARNING,
    )
    return Client(cluster), cluster


def dask_results(
    jobs: list[Job], out: str, config: PipelineConfig, prior: Callable[[Job], dict[str, Any]]
) -> Iterator[Outcome]:
    """Submit one task per interview; yield outcomes as tasks finish. A lost worker fails only its task."""
    from dask.distributed import as_completed

    client, cluster = _client(config)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        threads = config.transcribe.cpu_threads or max(1, (os.cpu_count() or 1) // n_workers)
        cfg = config.model_copy(deep=True)
        cfg.transcribe.cpu_threads = threads
        cfg_json = cfg.model_dump_json()
        client.register_plugin(ModelCachePlugin(cfg_json, threads), name=PLUGIN_NAME)
        futures = {
            client.submit(run_audio_stages_in_worker, (job, out, cfg_json, prior(job), 1), key=f"audio-{job.interview_id}-{os.getpid()}", pure=False, retries=0): job
            for job in jobs
        }
        for fut in as_completed(list(futures)):
            job = futures[fut]
            try:
                yield fut.result()
            except Exception as e:  # KilledWorker, CommClosedError: only this interview is lost
                logger.warning("%s: task lost (%s)", job.interview_id, type(e).__name__)
                yield Outcome(job.interview_id, job.source, "failed", f"{Path(job.source).name}: Dask worker lost ({type(e).__name__}); re-run to finish it", "ingest")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
