"""Subtitle writers: one cue per segment, in time order, UTF-8 with a BOM.

The BOM makes the encoding explicit: importers that guess a file's charset (Taguette's) read
non-ASCII text as UTF-8 instead of cp1252. Both formats allow it.

* ``srt`` — SubRip has no speaker field, so the speaker is a text prefix ``Speaker: text``. It has no
  escaping either: ``-->`` in text becomes ``->`` so no line can pass for a timing line. Times
  ``hh:mm:ss,mmm``.
* ``vtt`` — plain cue text ``Speaker: text`` (no ``<v>`` voice span: Taguette and other importers
  show voice tags literally). WebVTT reserves ``<`` and ``&``: ``<`` is written ``&lt;``, ``&`` is
  written ``&amp;`` only where a WebVTT (HTML) parser would read a character reference (``&amp``,
  ``&lt;``, ``&#38;``, ``&copy`` ...; not ``R&D`` or ``Q&A``), and ``-->`` becomes ``--&gt;``;
  everything else is kept, so importers that do not decode references (Taguette) show the text as
  spoken except for ``<`` and ``-->``. Times ``hh:mm:ss.mmm``.

Cue text is one line (line breaks would end a cue early). Empty segments keep their cue (speaker only).
"""

from __future__ import annotations

import html
import re

from pipeline.export.base import InterviewWriter, hms_millis, lines
from pipeline.schema import Transcript

BOM = "\ufeff"
_REFERENCE_LIKE = re.compile(r"&(?:#[0-9]+;?|#[xX][0-9A-Fa-f]+;?|[A-Za-z][A-Za-z0-9]*;?)")


def _escape_reference(m: re.Match) -> str:
    # html.unescape applies HTML's rules (the ones WebVTT's parser uses), legacy names included.
    return "&amp;" + m.group()[1:] if html.unescape(m.group()) != m.group() else m.group()


def vtt_escape(text: str) -> str:
    """WebVTT cue text for ``text``: only what a WebVTT parser would read as markup is escaped."""
    text = _REFERENCE_LIKE.sub(_escape_reference, text)
    return text.replace("<", "&lt;").replace("-->", "--&gt;")


class SrtWriter(InterviewWriter):
    name = "srt"
    suffix = ".srt"

    def render(self, transcript: Transcript, config) -> bytes:
        cues = []
        for n, ln in enumerate(lines(transcript), 1):
            text = f"{ln.speaker}: {ln.text}".rstrip().replace("-->", "->")
            cues.append(f"{n}\n{hms_millis(ln.start, ',')} --> {hms_millis(ln.end, ',')}\n{text}\n")
        return (BOM + "\n".join(cues)).encode("utf-8")


class VttWriter(InterviewWriter):
    name = "vtt"
    suffix = ".vtt"

    def render(self, transcript: Transcript, config) -> bytes:
        cues = ["WEBVTT\n"]
        for ln in lines(transcript):
            text = vtt_escape(f"{ln.speaker}: {ln.text}".rstrip())
            cues.append(f"{hms_millis(ln.start)} --> {hms_millis(ln.end)}\n{text}\n")
        return (BOM + "\n".join(cues)).encode("utf-8")
