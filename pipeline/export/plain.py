"""Plain-text writers: a readable transcript (txt), MAXQDA's timestamped transcript and NVivo's rows.

* ``txt`` — one paragraph per speaker turn, ``Speaker: text``; with ``timestamps`` on, each turn
  starts with ``[hh:mm:ss.s]`` (the start of its first segment). UTF-8, LF line ends.
* ``maxqda`` — one paragraph per turn, ``#hh:mm:ss-t# Speaker: text``, with a further marker before
  every later segment of the turn and one after the last segment (its end). ``-t`` is tenths of a
  second, the f4/f5 syntax MAXQDA reads for media sync (ATLAS.ti reads it too). Text that looks
  like a marker is defused (``#`` -> fullwidth ``＃``). UTF-8 with BOM, CRLF (Windows tools).
* ``nvivo`` — NVivo's "Import Transcript Entries" rows: a header, then ``timespan<TAB>speaker
  <TAB>content`` per segment, timespan ``hh:mm:ss.s-hh:mm:ss.s``; three columns on every line
  (tabs and line breaks in text become spaces). UTF-8 with BOM, CRLF.
"""

from __future__ import annotations

import re

from pipeline.export.base import InterviewWriter, hms_tenths, lines, timespan_tenths, turns
from pipeline.schema import Transcript

BOM = "\ufeff"
_MAXQDA_LOOKALIKE = re.compile(r"#(\d+:\d{2}:\d{2}(?:[-.,]\d+)?)#")


def maxqda_time(seconds: float) -> str:
    """``#hh:mm:ss-t#`` with t the tenths of a second (rounded)."""
    return "#" + hms_tenths(seconds).replace(".", "-") + "#"


def defuse_maxqda(text: str) -> str:
    """Make text that looks like a MAXQDA time marker inert (``#`` -> ``＃``)."""
    return _MAXQDA_LOOKALIKE.sub(lambda m: f"\uff03{m.group(1)}\uff03", text)


class TxtWriter(InterviewWriter):
    name = "txt"
    suffix = ".txt"

    def render(self, transcript: Transcript, config) -> bytes:
        paragraphs = []
        for turn in turns(transcript):
            stamp = f"[{hms_tenths(turn.start)}] " if config.timestamps else ""
            paragraphs.append(f"{stamp}{turn.speaker}: {turn.text}")
        return ("\n\n".join(paragraphs) + "\n").encode("utf-8") if paragraphs else b""


class MaxqdaWriter(InterviewWriter):
    name = "maxqda"
    suffix = ".maxqda.txt"

    def render(self, transcript: Transcript, config) -> bytes:
        paragraphs = []
        all_turns = turns(transcript)
        for turn in all_turns:
            first, *rest = turn.lines
            parts = [f"{maxqda_time(first.start)} {turn.speaker}: {defuse_maxqda(first.text)}"]
            parts += [f"{maxqda_time(line.start)} {defuse_maxqda(line.text)}" for line in rest]
            paragraphs.append(" ".join(parts))
        if paragraphs:
            paragraphs[-1] += f" {maxqda_time(all_turns[-1].end)}"
        return (BOM + "\r\n\r\n".join(paragraphs) + "\r\n").encode("utf-8")


class NvivoWriter(InterviewWriter):
    name = "nvivo"
    suffix = ".nvivo.txt"
    header = ("Timespan", "Speaker", "Content")

    def render(self, transcript: Transcript, config) -> bytes:
        rows = [self.header]
        rows += [(timespan_tenths(ln.start, ln.end), ln.speaker, ln.text) for ln in lines(transcript)]
        return (BOM + "".join("\t".join(r) + "\r\n" for r in rows)).encode("utf-8")
