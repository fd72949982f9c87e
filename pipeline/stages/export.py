"""Export stage: shareable (pseudonymised) transcripts -> files coding tools import.

Per-interview files go to ``shareable_root/<id>/<id><suffix>``; project-level files
(``project.qdpx``, ``segments.csv``) to ``shareable_root/``. Writers get only shareable transcripts
and, for ``qdpx`` with ``include_audio_in_qdpx``, the recordings' paths; never a key or a raw
transcript. Every file is written atomically.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pipeline.export import WRITERS, ExportConfig
from pipeline.export.base import validate_transcripts
from pipeline.schema import Transcript

logger = logging.getLogger(__name__)


def run(
    transcripts: list[Transcript],
    shareable_root: Path,
    config: ExportConfig,
    audio_paths: dict[str, Path] | None = None,
) -> list[Path]:
    """Write every format in ``config.formats`` for ``transcripts``; return the paths written.

    Raises ``ExportError`` (naming the interview or segment) for a transcript that cannot be
    exported, before any file is written.
    """
    transcripts = validate_transcripts(transcripts)
    shareable_root = Path(shareable_root)
    if audio_paths and not config.include_audio_in_qdpx:
        audio_paths = None  # recordings are identifiable: only handed on when asked for
    written: list[Path] = []
    for name in config.formats:
        t0 = time.perf_counter()
        paths = WRITERS[name]().write(transcripts, shareable_root, config, audio_paths)
        written += paths
        logger.info(
            "export %s: %d file(s) for %d interview(s) in %.2f s",
            name,
            len(paths),
            len(transcripts),
            time.perf_counter() - t0,
        )
    return written
