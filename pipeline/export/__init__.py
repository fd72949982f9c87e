"""Exports of shareable transcripts for coding tools (NVivo, MAXQDA, ATLAS.ti, QualCoder) and scripts."""

from pipeline.export.base import ExportError, Writer
from pipeline.export.config import ExportConfig
from pipeline.export.qdpx import read_qdpx
from pipeline.export.registry import WRITERS

__all__ = ["WRITERS", "ExportConfig", "ExportError", "Writer", "read_qdpx"]
