"""The export writers by name: an explicit registry, no discovery (see STYLE.md)."""

from __future__ import annotations

from pipeline.export.base import Writer
from pipeline.export.data import CsvWriter, JsonWriter
from pipeline.export.plain import MaxqdaWriter, NvivoWriter, TxtWriter
from pipeline.export.qdpx import QdpxWriter
from pipeline.export.subtitles import SrtWriter, VttWriter
from pipeline.export.word import DocxTableWriter, DocxWriter

WRITERS: dict[str, type[Writer]] = {
    "txt": TxtWriter,
    "docx": DocxWriter,
    "docx_table": DocxTableWriter,
    "nvivo": NvivoWriter,
    "maxqda": MaxqdaWriter,
    "qdpx": QdpxWriter,
    "srt": SrtWriter,
    "vtt": VttWriter,
    "json": JsonWriter,
    "csv": CsvWriter,
}
