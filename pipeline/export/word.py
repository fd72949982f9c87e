"""Word writers (python-docx).

* ``docx`` — a readable transcript, one paragraph per speaker turn: ``[hh:mm:ss] `` (when
  ``timestamps`` is on; the turn's start, whole seconds rounded down), the speaker in bold followed
  by ``:``, the text. NVivo's Word transcript import wants every paragraph to start with a time
  stamp, so there is no heading (the interview id is the document's title property); QualCoder's
  media sync reads ``[hh:mm:ss]`` too. Text that looks like a time stamp is defused.
* ``docx_table`` — NVivo's table form, ``<id>.table.docx``: one table, a header row
  ``Timespan | Speaker | Content`` and one row per segment, timespan ``hh:mm:ss.s-hh:mm:ss.s``.

Both are byte-for-byte reproducible: fixed core properties (no author, fixed dates) and zip entries
rewritten with a fixed date.
"""

from __future__ import annotations

import datetime as dt
import io

import docx
from docx.document import Document

from pipeline.export.base import InterviewWriter, defuse_stamps, lines, normalize_zip, timespan_tenths, turns
from pipeline.export.plain import stamp
from pipeline.schema import Transcript

FIXED_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def new_document(title: str) -> Document:
    doc = docx.Document()
    cp = doc.core_properties
    cp.author = ""
    cp.last_modified_by = ""
    cp.comments = ""
    cp.title = title
    cp.created = FIXED_DATE
    cp.modified = FIXED_DATE
    cp.revision = 1
    return doc


def save(doc: Document) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)
    return normalize_zip(buf.getvalue())


class DocxWriter(InterviewWriter):
    name = "docx"
    suffix = ".docx"

    def render(self, transcript: Transcript, config) -> bytes:
        doc = new_document(transcript.interview_id)
        for turn in turns(transcript):
            p = doc.add_paragraph()
            if config.timestamps:
                p.add_run(f"{stamp(turn.start)} ")
            p.add_run(f"{turn.speaker}:").bold = True
            p.add_run(f" {defuse_stamps(turn.text)}")
        return save(doc)


class DocxTableWriter(InterviewWriter):
    name = "docx_table"
    suffix = ".table.docx"
    header = ("Timespan", "Speaker", "Content")

    def render(self, transcript: Transcript, config) -> bytes:
        doc = new_document(transcript.interview_id)
        table = doc.add_table(rows=1, cols=3)
        table.style = "Table Grid"
        for cell, value in zip(table.rows[0].cells, self.header, strict=True):
            cell.paragraphs[0].add_run(value).bold = True
        for ln in lines(transcript):
            values = (timespan_tenths(ln.start, ln.end), ln.speaker, ln.text)
            for cell, value in zip(table.add_row().cells, values, strict=True):
                cell.text = value
        return save(doc)
