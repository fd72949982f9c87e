"""Writers for researchers who script their own analysis.

* ``json`` — exactly the shareable transcript in our schema (``Transcript.to_json``); reading it back
  with ``Transcript.from_dict`` gives an equal transcript.
* ``csv`` — one file for the run, ``segments.csv``: one row per segment with the columns
  ``interview, segment, start, end, speaker_id, speaker, text`` (seconds with three decimals, the
  speaker's label, the segment text). RFC 4180: comma-separated, CRLF, fields with commas, quotes or
  line breaks quoted. UTF-8 without BOM. Interviews in the order given, segments in time order.
  Spreadsheet formula injection is neutralised as OWASP's "CSV Injection" page advises: a text
  cell (speaker_id, speaker, text) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading ``'``, so a spreadsheet shows it as text and never evaluates it. Numbers
  (segment, start, end) and interview ids (``[A-Za-z0-9]`` first) are never changed.
"""

from __future__ import annotations

import csv
import io
import json

from pipeline.export.base import InterviewWriter, ProjectWriter, clean_text
from pipeline.schema import Transcript


class JsonWriter(InterviewWriter):
    name = "json"
    suffix = ".json"

    def render(self, transcript: Transcript, config) -> bytes:
        try:
            return (transcript.to_json() + "\n").encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate cannot be UTF-8; JSON's \u escapes keep it exactly.
            return (json.dumps(transcript.to_dict(), ensure_ascii=True, indent=1) + "\n").encode("ascii")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A text cell a spreadsheet will not evaluate: OWASP's leading ``'`` before a formula start."""
    return "'" + text if text.startswith(_FORMULA_START) else text


class CsvWriter(ProjectWriter):
    name = "csv"
    filename = "segments.csv"
    header = ("interview", "segment", "start", "end", "speaker_id", "speaker", "text")

    def render(self, transcripts, config, audio_paths=None) -> bytes:
        buf = io.StringIO(newline="")
        w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        w.writerow(self.header)
        for t in transcripts:
            ordered = sorted(enumerate(t.segments), key=lambda p: (p[1].start, p[0]))
            for _, seg in ordered:
                w.writerow(
                    (
                        t.interview_id,
                        seg.id,
                        f"{seg.start:.3f}",
                        f"{seg.end:.3f}",
                        csv_cell(seg.speaker or ""),
                        csv_cell(clean_text(t.speaker_label(seg.speaker))),
                        csv_cell(clean_text(seg.text)),
                    )
                )
        return buf.getvalue().encode("utf-8")
