"""Plain-text writers: a readable transcript (txt), MAXQDA's timestamped transcript and NVivo's rows.

Each layout follows what the tool's importer reads (sources in docs/exports.md):

* ``txt`` — one paragraph per speaker turn, blank line between. The speaker comes first, so
  QualCoder's and NVivo's speaker auto-coding (a ``Name:`` at the start of a line) find it; with
  ``timestamps`` on, ``[hh:mm:ss]`` follows the name (the turn's start, whole seconds rounded
  down, a form QualCoder's media sync reads): ``Speaker: [hh:mm:ss] text``. UTF-8, LF.
* ``maxqda`` — one paragraph per segment, blank line between, each starting with its time stamp
  directly followed by the speaker: ``[hh:mm:ss]Speaker: text`` (aTrain's MAXQDA file uses
  ``[hh:mm:ss]``; a MAXQDA focus-group guide asks for no space and no ``#`` before the speaker).
  UTF-8 with BOM, CRLF (Windows tools).
* ``nvivo`` — NVivo's "Import Transcript Entries" rows: a header, then ``timespan<TAB>speaker
  <TAB>content`` per segment, timespan ``hh:mm:ss.s-hh:mm:ss.s`` (NVivo's tenths); three columns
  on every line (tabs and line breaks in text become spaces). UTF-8 with BOM, CRLF.

In txt and maxqda, transcript text that looks like a time stamp is defused (``defuse_stamps``), so
a tool's stamp reader finds exactly one stamp per turn or segment.
"""

from __future__ import annotations

from pipeline.export.base import (
    InterviewWriter,
    defuse_stamps,
    hms_whole,
    lines,
    timespan_tenths,
    turns,
)
from pipeline.schema import Transcript

BOM = "\ufeff"


def stamp(seconds: float) -> str:
    """``[hh:mm:ss]``: the stamp of the txt, docx and maxqda exports."""
    return f"[{hms_whole(seconds)}]"


class TxtWriter(InterviewWriter):
    name = "txt"
    suffix = ".txt"

    def render(self, transcript: Transcript, config) -> bytes:
        paragraphs = []
        for turn in turns(transcript):
            at = f"{stamp(turn.start)} " if config.timestamps else ""
            paragraphs.append(f"{turn.speaker}: {at}{defuse_stamps(turn.text)}")
        return ("\n\n".join(paragraphs) + "\n").encode("utf-8") if paragraphs else b""


class MaxqdaWriter(InterviewWriter):
    name = "maxqda"
    suffix = ".maxqda.txt"

    def render(self, transcript: Transcript, config) -> bytes:
        paragraphs = [
            f"{stamp(ln.start)}{ln.speaker}: {defuse_stamps(ln.text)}" for ln in lines(transcript) if ln.text
        ]
        return (BOM + "\r\n\r\n".join(paragraphs) + "\r\n").encode("utf-8")


class NvivoWriter(InterviewWriter):
    name = "nvivo"
    suffix = ".nvivo.txt"
    header = ("Timespan", "Speaker", "Content")

    def render(self, transcript: Transcript, config) -> bytes:
        rows = [self.header]
        rows += [(timespan_tenths(ln.start, ln.end), ln.speaker, ln.text) for ln in lines(transcript)]
        return (BOM + "".join("\t".join(r) + "\r\n" for r in rows)).encode("utf-8")
