"""The deidentify stage's file side: read transcripts that did not come from audio, write the outputs.

Detection and replacement live in ``pipeline.deid``; this module parses this project's transcript
JSON or plain ``Speaker: text`` lines, and writes the restricted redaction log and the shareable
transcript (JSON + text) atomically with mode 0600.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pipeline.schema import Redaction, SchemaError, Segment, Speaker, Transcript

logger = logging.getLogger(__name__)

# "Anna: text", "[00:01:23] Interviewer: text", "P1 (00:12): text"
LINE_RE = re.compile(
    r"^\s*(?:\[(?P<ts>\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?)\]\s*)?"
    r"(?P<label>[^\W\d_][\w .'’()-]{0,38}?)\s*(?:\((?P<ts2>\d{1,2}(?::\d{2}){1,2})\))?\s*:\s+(?P<text>\S.*)$"
)
ROLE_WORDS = {
    "interviewer": "interviewer",
    "int": "interviewer",
    "i": "interviewer",
    "q": "interviewer",
    "moderator": "interviewer",
    "researcher": "interviewer",
    "participant": "participant",
    "interviewee": "participant",
    "respondent": "participant",
    "r": "participant",
    "a": "participant",
    "p": "participant",
    "deltager": "participant",
    "informant": "participant",
    "interviewperson": "participant",
    "d": "participant",
    "intervieweren": "interviewer",
}


def _seconds(ts: str | None) -> float:
    if not ts:
        return 0.0
    total = 0.0
    for part in ts.split(":"):
        total = total * 60 + float(part)
    return total


def parse_text_transcript(text: str, interview_id: str, source: str = "<text>") -> Transcript:
    """Plain text with 'Speaker: text' lines; unlabelled lines continue the previous turn."""
    speakers: dict[str, Speaker] = {}
    segments: list[Segment] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = LINE_RE.match(line)
        if m and len(m.group("label").split()) <= 4:
            label = m.group("label").strip()
            if label not in speakers:
                sid = f"S{len(speakers) + 1}"
                role = ROLE_WORDS.get(re.sub(r"\W|\d", "", label.lower()), "unknown")
                speakers[label] = Speaker(id=sid, label=label, role=role)
            start = _seconds(m.group("ts") or m.group("ts2"))
            segments.append(
                Segment(
                    id=len(segments),
                    start=start,
                    end=start,
                    text=m.group("text").strip(),
                    speaker=speakers[label].id,
                )
            )
        elif segments:
            segments[-1].text = f"{segments[-1].text} {line.strip()}"
        else:
            raise SchemaError(
                f"{source}: line {lineno} is not a 'Speaker: text' line and no turn precedes it"
            )
    if not segments:
        raise SchemaError(f"{source}: no 'Speaker: text' lines found")
    for i, seg in enumerate(segments[:-1]):  # a turn lasts until the next one starts, when times are known
        nxt = segments[i + 1].start
        if nxt > seg.start:
            seg.end = nxt
    return Transcript(
        interview_id=interview_id,
        language=None,
        segments=segments,
        speakers=list(speakers.values()),
        provenance={"source": "text transcript"},  # the file name may name someone: manifest only
    )


def read_transcript_file(path: Path) -> Transcript:
    """This project's transcript JSON, or plain text with 'Speaker: text' lines.

    The interview id of a text transcript is the slugified file name stem. Anything else raises
    ``SchemaError('<file>: <reason>')``.
    """
    from pipeline.store import slugify

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SchemaError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from e
    if b"\x00" in raw[:4096]:
        raise SchemaError(f"{path}: binary file, neither transcript JSON nor 'Speaker: text' lines")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SchemaError(f"{path}: not UTF-8 text, neither transcript JSON nor 'Speaker: text' lines") from e
    if text.lstrip().startswith(("{", "[")):
        return Transcript.from_json_text(text, path)
    return parse_text_transcript(text, slugify(path.stem), source=str(path))


def transcript_text(t: Transcript) -> str:
    """'Label: text' paragraphs, consecutive segments of one speaker joined into one turn."""
    paragraphs: list[tuple[str | None, list[str]]] = []
    for seg in t.segments:
        if not seg.text.strip():
            continue
        if paragraphs and paragraphs[-1][0] == seg.speaker:
            paragraphs[-1][1].append(seg.text.strip())
        else:
            paragraphs.append((seg.speaker, [seg.text.strip()]))
    return "\n\n".join(f"{t.speaker_label(sp)}: {' '.join(parts)}" for sp, parts in paragraphs) + "\n"


def write_deidentified(
    shareable: Transcript, redactions: list[Redaction], restricted_dir: Path, shareable_dir: Path
) -> None:
    """restricted_dir/redactions.json, shareable_dir/transcript.json and transcript.txt (0600, atomic)."""
    from pipeline.store import atomic_write_json, atomic_write_text

    restricted_dir, shareable_dir = Path(restricted_dir), Path(shareable_dir)
    log = {"interview_id": shareable.interview_id, "redactions": [r.to_dict() for r in redactions]}
    atomic_write_json(restricted_dir / "redactions.json", log, mode=0o600)
    atomic_write_text(shareable_dir / "transcript.json", shareable.to_json() + "\n", mode=0o600)
    atomic_write_text(shareable_dir / "transcript.txt", transcript_text(shareable), mode=0o600)
    logger.info(
        "%s: wrote %d redaction(s) and the shareable transcript", shareable.interview_id, len(redactions)
    )
