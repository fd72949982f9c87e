"""What every export writer shares: the writer base classes, text cleaning, time formats and turns.

Writers receive only shareable (pseudonymised) transcripts. Each tool's quirks stay in its own
writer module; this module holds the rules they have in common:

* ``clean_text``: characters no file format can carry (C0 controls other than tab and line
  breaks, lone surrogates) become a space or U+FFFD, so XML, Word and UTF-8 never reject a file.
* ``one_line``: for line- and paragraph-oriented formats every run of whitespace that holds a tab or
  a line break becomes one space, so a segment can never start a new row, cue or paragraph.
* ``speaker_name``: a speaker label fit to stand before ``": "`` (one line, no colon, no ``#``).
* Times are rounded (not truncated) to the format's resolution, so they agree with the transcript
  to half of that resolution (0.05 s for tenths).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.schema import Transcript

if TYPE_CHECKING:
    from pipeline.export.config import ExportConfig

# A fixed instant for every timestamp a container format insists on (zip entries, Word core
# properties): the same input then gives byte-identical files on every run.
FIXED_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# C0 controls except TAB, LF, CR; also DEL and the C1 block, which XML 1.0 discourages.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BREAKING_SPACE = re.compile(r"\s*[\t\r\n\u2028\u2029\x85]\s*")


class ExportError(ValueError):
    """A transcript cannot be exported; the message names the interview, segment or format."""


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Replace characters that XML, Word or UTF-8 cannot hold; everything else is kept as is."""
    text = _SURROGATE.sub("\ufffd", text)
    return _CONTROL.sub(" ", text)


def one_line(text: str) -> str:
    """``clean_text`` plus: tabs and line breaks (with the spaces around them) become one space."""
    return _BREAKING_SPACE.sub(" ", clean_text(text)).strip()


# Text that a transcript reader would take for a time stamp: a delimited time ([mm:ss], [hh:mm:ss],
# [hh.mm.ss], {hh:mm:ss}, #hh:mm:ss.s#, #hh:mm:ss-t#) or an SRT arrow between two times.
_STAMP_LOOKALIKE = re.compile(r"([\[{#])(\d{1,3}[:.]\d\d(?:[:.]\d\d)?(?:[.,-]\d{1,3})?)([\]}#])")
_ARROW_LOOKALIKE = re.compile(r"(\d\d:\d\d[.,]\d{1,3}\s*)-->(?=\s*(?:\d+:)?\d\d:\d\d[.,]\d)")
_FULLWIDTH = {"[": "\uff3b", "{": "\uff5b", "#": "\uff03"}


def defuse_stamps(text: str) -> str:
    """Make text that looks like a time stamp inert, so a tool's stamp reader finds only ours.

    The opening delimiter becomes its fullwidth form (``[`` -> ``［``, ``{`` -> ``｛``, ``#`` -> ``＃``)
    and an SRT arrow between two times becomes ``->``; all other text is kept.
    """
    text = _STAMP_LOOKALIKE.sub(lambda m: _FULLWIDTH[m.group(1)] + m.group(2) + m.group(3), text)
    return _ARROW_LOOKALIKE.sub(lambda m: m.group(1) + "->", text)


def speaker_name(label: str) -> str:
    """A label that can stand before ``": "``: one line, ``:`` and ``#`` replaced by ``-``."""
    name = one_line(label).replace(":", "-").replace("#", "-").strip()
    return name or "Unknown"


# ---------------------------------------------------------------------------------------------
# Time
# ---------------------------------------------------------------------------------------------


def _split(seconds: float, units_per_second: int) -> tuple[int, int, int, int]:
    """(hours, minutes, seconds, fraction in units) of ``seconds``, rounded to the nearest unit."""
    total = int(round(max(0.0, seconds) * units_per_second))
    whole, frac = divmod(total, units_per_second)
    minutes, sec = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return hours, minutes, sec, frac


def hms_whole(seconds: float) -> str:
    """``hh:mm:ss``, whole seconds rounded DOWN: a stamp never points after the speech it marks
    (the form QualCoder, NVivo's Word import and aTrain's MAXQDA file use)."""
    total = int(math.floor(max(0.0, seconds) + 1e-9))
    minutes, sec = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{sec:02d}"


def hms_tenths(seconds: float) -> str:
    """``hh:mm:ss.s`` (NVivo's resolution is a tenth of a second)."""
    h, m, s, t = _split(seconds, 10)
    return f"{h:02d}:{m:02d}:{s:02d}.{t}"


def hms_millis(seconds: float, sep: str = ".") -> str:
    """``hh:mm:ss.mmm`` (WebVTT) or, with ``sep=","``, ``hh:mm:ss,mmm`` (SRT)."""
    h, m, s, ms = _split(seconds, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def timespan_tenths(start: float, end: float) -> str:
    """NVivo's timespan ``hh:mm:ss.s-hh:mm:ss.s``."""
    return f"{hms_tenths(start)}-{hms_tenths(end)}"


def timespan_millis(start: float, end: float) -> str:
    return f"{hms_millis(start)}-{hms_millis(end)}"


_HMS = re.compile(r"^(\d+):(\d{2}):(\d{2})(?:[.,](\d+))?$")


def parse_hms(text: str) -> float:
    """Seconds from ``hh:mm:ss``, ``hh:mm:ss.s`` or ``hh:mm:ss,mmm`` (the inverse of the above)."""
    m = _HMS.match(text.strip())
    if not m:
        raise ValueError(f"not a hh:mm:ss time: {text!r}")
    h, mi, s, frac = m.groups()
    value = int(h) * 3600 + int(mi) * 60 + int(s)
    if frac:
        value += int(frac) / 10 ** len(frac)
    return float(value)


# ---------------------------------------------------------------------------------------------
# Lines and turns: the units writers lay out
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One segment, ready to lay out: clean one-line text, its speaker and its times."""

    segment_id: int
    start: float
    end: float
    speaker_id: str | None
    speaker: str  # speaker_name(label)
    text: str  # one_line(segment.text)


@dataclass
class Turn:
    """Consecutive non-empty lines of one speaker: a paragraph in txt, docx, maxqda and qdpx."""

    speaker_id: str | None
    speaker: str
    lines: list[Line] = field(default_factory=list)

    @property
    def start(self) -> float:
        return self.lines[0].start

    @property
    def end(self) -> float:
        return self.lines[-1].end

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


def lines(transcript: Transcript) -> list[Line]:
    """Every segment, in time order (ties keep transcript order), with clean text and times.

    Start and end are clamped to >= 0 and end to >= start, so no format sees a negative span.
    """
    ordered = sorted(enumerate(transcript.segments), key=lambda p: (p[1].start, p[0]))
    out = []
    for _, seg in ordered:
        start = max(0.0, float(seg.start))
        out.append(
            Line(
                segment_id=seg.id,
                start=start,
                end=max(start, float(seg.end)),
                speaker_id=seg.speaker,
                speaker=speaker_name(transcript.speaker_label(seg.speaker)),
                text=one_line(seg.text),
            )
        )
    return out


def turns(transcript: Transcript) -> list[Turn]:
    """Runs of one speaker's non-empty lines; an empty segment neither shows nor splits a turn."""
    out: list[Turn] = []
    for line in lines(transcript):
        if not line.text:
            continue
        if out and out[-1].speaker_id == line.speaker_id:
            out[-1].lines.append(line)
        else:
            out.append(Turn(line.speaker_id, line.speaker, [line]))
    return out


# ---------------------------------------------------------------------------------------------
# Validation and containers
# ---------------------------------------------------------------------------------------------


def validate_transcripts(transcripts: Iterable[Transcript]) -> list[Transcript]:
    """Check what every writer relies on; raise ExportError naming the interview and segment."""
    seen: set[str] = set()
    out = []
    for t in transcripts:
        if not isinstance(t, Transcript):
            raise ExportError(f"export takes Transcript objects, got {type(t).__name__}")
        iid = t.interview_id
        if not isinstance(iid, str) or not _SAFE_ID.match(iid) or ".." in iid:
            raise ExportError(f"interview id {iid!r} is not usable as a folder name")
        if iid in seen:
            raise ExportError(f"interview id {iid!r} appears twice in one export")
        seen.add(iid)
        for seg in t.segments:
            if not (math.isfinite(seg.start) and math.isfinite(seg.end)):
                raise ExportError(f"{iid}: segment {seg.id} has a non-finite start or end time")
        out.append(t)
    return out


def deterministic_zip(entries: Iterable[tuple[str, bytes]], compress: bool = True) -> bytes:
    """A zip whose bytes depend only on ``entries``: fixed dates, modes and compression level."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(zip_info(name, compress), data)
    return buf.getvalue()


def zip_info(name: str, compress: bool = True) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    info.create_system = 3  # Unix, whatever platform writes it
    return info


def normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip (e.g. python-docx's output) with fixed entry dates, in the same entry order."""
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        entries = [(i.filename, src.read(i.filename)) for i in src.infolist()]
    return deterministic_zip(entries)


# ---------------------------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------------------------


class Writer(ABC):
    """Turns shareable transcripts into files under the shareable root; returns the paths."""

    name: str = ""

    @abstractmethod
    def write(
        self,
        transcripts: list[Transcript],
        root: Path,
        config: ExportConfig,
        audio_paths: dict[str, Path] | None = None,
    ) -> list[Path]: ...


class InterviewWriter(Writer):
    """One file per interview: ``root/<id>/<id><suffix>``, rendered in memory then written atomically."""

    suffix: str = ""

    @abstractmethod
    def render(self, transcript: Transcript, config: ExportConfig) -> bytes: ...

    def path_for(self, root: Path, interview_id: str) -> Path:
        return root / interview_id / f"{interview_id}{self.suffix}"

    def write(self, transcripts, root, config, audio_paths=None):
        from pipeline.store import atomic_write_bytes

        return [
            atomic_write_bytes(self.path_for(root, t.interview_id), self.render(t, config))
            for t in transcripts
        ]


class ProjectWriter(Writer):
    """One file for all interviews of the run: ``root/<filename>``."""

    filename: str = ""

    @abstractmethod
    def render(
        self, transcripts: list[Transcript], config: ExportConfig, audio_paths: dict[str, Path] | None = None
    ) -> bytes: ...

    def write(self, transcripts, root, config, audio_paths=None):
        from pipeline.store import atomic_write_bytes

        return [atomic_write_bytes(root / self.filename, self.render(transcripts, config, audio_paths))]
