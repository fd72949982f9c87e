"""Subtitle writers: one cue per segment, in time order.

* ``srt`` — SubRip has no speaker field, so the speaker is a text prefix ``Speaker: text``. It has no
  escaping either: ``-->`` in text becomes ``->`` so no line can pass for a timing line. Times
  ``hh:mm:ss,mmm``.
* ``vtt`` — WebVTT carries the speaker in a voice span ``<v Speaker>text``; ``&``, ``<`` and ``>``
  are written as character references (so ``-->`` cannot appear in cue text). Times ``hh:mm:ss.mmm``.

Cue text is one line (line breaks would end a cue early). Empty segments keep their cue (speaker only).
"""

from __future__ import annotations

from pipeline.export.base import InterviewWriter, hms_millis, lines
from pipeline.schema import Transcript


def vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SrtWriter(InterviewWriter):
    name = "srt"
    suffix = ".srt"

    def render(self, transcript: Transcript, config) -> bytes:
        cues = []
        for n, ln in enumerate(lines(transcript), 1):
            text = f"{ln.speaker}: {ln.text}".rstrip().replace("-->", "->")
            cues.append(f"{n}\n{hms_millis(ln.start, ',')} --> {hms_millis(ln.end, ',')}\n{text}\n")
        return "\n".join(cues).encode("utf-8")


class VttWriter(InterviewWriter):
    name = "vtt"
    suffix = ".vtt"

    def render(self, transcript: Transcript, config) -> bytes:
        cues = ["WEBVTT\n"]
        for ln in lines(transcript):
            cues.append(
                f"{hms_millis(ln.start)} --> {hms_millis(ln.end)}\n<v {vtt_escape(ln.speaker)}>{vtt_escape(ln.text)}\n"
            )
        return "\n".join(cues).encode("utf-8")
