"""The deidentify stage's file side: read transcripts that did not come from audio, write the outputs.

Detection and replacement live in ``pipeline.deid``; this module parses this project's transcript
JSON or plain ``Speaker: text`` lines, and writes the restricted redaction log and the shareable
transcript (JSON + text) atomically with mode 0600.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
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


# Limits on an existing transcript given to `deidentify`: a three-hour interview is a few thousand
# segments and a few MB. Beyond these a file is refused with the reason (split it), rather than
# holding it all in memory for hours without a word.
MAX_TRANSCRIPT_BYTES = 64 * 2**20
MAX_SEGMENTS = 100_000
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?")


def read_transcript_file(path: Path) -> Transcript:
    """This project's transcript JSON, or plain text with 'Speaker: text' lines.

    The interview id of a text transcript is the slugified file name stem. Anything else raises
    ``SchemaError('<file>: <reason>')``.
    """
    from pipeline.store import slugify

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise SchemaError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from e
    if size > MAX_TRANSCRIPT_BYTES:
        raise SchemaError(
            f"{path}: {size / 2**20:.0f} MiB is over the limit of {MAX_TRANSCRIPT_BYTES // 2**20} MiB "
            "for one transcript; split it into several files"
        )
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
        t = Transcript.from_json_text(text, path, max_segments=MAX_SEGMENTS)
    else:
        t = parse_text_transcript(text, slugify(path.stem), source=str(path))
    if len(t.segments) > MAX_SEGMENTS:
        raise SchemaError(
            f"{path}: {len(t.segments):,} segments is over the limit of {MAX_SEGMENTS:,} for one "
            "transcript; split it into several files"
        )
    return t


def normalise_input(t: Transcript) -> Transcript:
    """Keep only what this pipeline produces from an existing transcript; nothing copied verbatim.

    - ``provenance`` is replaced: the input's own may say anything (a transcriber's name, a path);
    - speaker ids become ``S1, S2, ...``; a segment or word ``speaker`` missing from ``speakers[]``
      (``"Birthe Lund"``) becomes a speaker of its own whose *label* is that text, so the
      deidentify stage treats it as every label is treated (a name in it is pseudonymised);
    - roles outside interviewer/participant/unknown become unknown; a language that is not a
      language code is dropped.
    """
    ids: dict[str, str] = {}
    speakers: list[Speaker] = []

    def add(old: str, label: str, role: str) -> None:
        if old not in ids:
            ids[old] = f"S{len(ids) + 1}"
            role = role if role in ("interviewer", "participant") else "unknown"
            speakers.append(Speaker(id=ids[old], label=label, role=role))

    for sp in t.speakers:
        add(sp.id, sp.label, sp.role)
    for seg in t.segments:
        for sid in (seg.speaker, *(w.speaker for w in seg.words)):
            if sid is not None:
                add(str(sid), str(sid), "unknown")
    segments = [
        Segment(
            id=seg.id,
            start=seg.start,
            end=seg.end,
            text=seg.text,
            speaker=ids[str(seg.speaker)] if seg.speaker is not None else None,
            words=[
                replace(w, speaker=ids[str(w.speaker)] if w.speaker is not None else None) for w in seg.words
            ],
            overlap=seg.overlap,
        )
        for seg in t.segments
    ]
    language = t.language if isinstance(t.language, str) and _LANGUAGE.fullmatch(t.language) else None
    duration = (
        t.duration if isinstance(t.duration, (int, float)) and not isinstance(t.duration, bool) else None
    )
    kind = "text transcript" if t.provenance.get("source") == "text transcript" else "transcript JSON"
    return Transcript(
        interview_id=t.interview_id,
        language=language,
        segments=segments,
        speakers=speakers,
        duration=duration,
        provenance={"source": kind},
    )


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


# Parts of provenance copied from the configuration or the model: a user may have written any
# text there (a prompt, a speaker label, a model folder, a voice sample's name).
_CONFIG_PARTS = (("transcribe", "config"), ("transcribe", "decode"), ("transcribe", "model"),
                 ("speakers", "options"), ("speakers", "resolved"))  # fmt: skip
_SAFE_STRING = re.compile(
    r"[0-9a-f]{64}|S\d{1,3}|package:[\w.-]+|(?:tiny|base|small|medium|large|turbo|distil)[\w.-]*"
    r"|\d+(?:\.\d+)*"
)
CUSTOM = "custom"


def _default_strings() -> set[str]:
    from pipeline.config import PipelineConfig

    found: set[str] = set()

    def walk(v) -> None:
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    c = PipelineConfig()
    walk(c.transcribe.model_dump(mode="json"))
    walk(c.speakers.model_dump(mode="json", exclude={"interviews"}))
    found |= {"faster-whisper", "openai-whisper", "cpu", "cuda", "auto", "int8", "int8_float16",
              "float16", "float32", "embedding", "channel", "pyannote", "none", "local", "hub"}  # fmt: skip
    return found


def _public_value(v, safe: set[str], key: str = ""):
    if isinstance(v, str):
        if key == "language" and re.fullmatch(r"[a-z]{2,3}", v):
            return v
        return v if v in safe or _SAFE_STRING.fullmatch(v) else CUSTOM
    if isinstance(v, dict):
        return {k: _public_value(x, safe, str(k)) for k, x in v.items()}
    if isinstance(v, list):
        return [_public_value(x, safe, key) for x in v]
    return v


def public_provenance(provenance: dict) -> dict:
    """The provenance shareable/ gets: only the parts this pipeline writes, and of the settings
    copied from the configuration only defaults, fixed choices and numbers; any other text (a
    custom prompt, a speaker label, a model folder) becomes ``"custom"``, a voice sample ``true``."""
    import copy

    keep = {k: copy.deepcopy(provenance[k]) for k in ("transcribe", "speakers", "deidentify", "review")
            if isinstance(provenance.get(k), dict)}  # fmt: skip
    if provenance.get("source") in ("text transcript", "transcript JSON"):
        keep["source"] = provenance["source"]
    safe = _default_strings()
    for stage, part in _CONFIG_PARTS:
        node = keep.get(stage)
        if isinstance(node, dict) and part in node:
            node[part] = _public_value(node[part], safe)
    options = keep.get("speakers", {}).get("options")
    if isinstance(options, dict) and "interviewer_sample" in options:
        options["interviewer_sample"] = bool(options["interviewer_sample"])
    return keep


def write_deidentified(
    shareable: Transcript, redactions: list[Redaction], restricted_dir: Path, shareable_dir: Path
) -> None:
    """restricted_dir/redactions.json, shareable_dir/transcript.json and transcript.txt (0600, atomic)."""
    from pipeline.store import atomic_write_json, atomic_write_text

    restricted_dir, shareable_dir = Path(restricted_dir), Path(shareable_dir)
    log = {"interview_id": shareable.interview_id, "redactions": [r.to_dict() for r in redactions]}
    atomic_write_json(restricted_dir / "redactions.json", log, mode=0o600)
    shareable = replace(shareable, provenance=public_provenance(shareable.provenance))
    atomic_write_text(shareable_dir / "transcript.json", shareable.to_json() + "\n", mode=0o600)
    atomic_write_text(shareable_dir / "transcript.txt", transcript_text(shareable), mode=0o600)
    logger.info(
        "%s: wrote %d redaction(s) and the shareable transcript", shareable.interview_id, len(redactions)
    )
