"""REFI-QDA project export (``project.qdpx``) and a reader for what it writes.

A ``.qdpx`` is a zip holding ``project.qde`` (QDA-XML, namespace ``urn:QDA-XML:project:1.0``, valid
against the REFI-QDA Project schema of March 2019) and ``sources/`` with the source files. All
interviews of a run go into one project. ATLAS.ti, MAXQDA, NVivo and QualCoder import it.

What the project holds:

* one **TextSource** per interview (``sources/<guid>.txt``, UTF-8 without BOM, LF): one paragraph
  per speaker turn, ``Speaker: text``. Each non-empty segment is a **PlainTextSelection** over its
  text (character offsets, counted in Unicode code points), named with its timespan
  ``hh:mm:ss.mmm-hh:mm:ss.mmm``;
* or, when the config asks for audio and a recording is given, an **AudioSource**
  (``sources/<guid>.<ext>``) whose **Transcript** is the same text, with a **SyncPoint** at the start
  and end of every segment (``timeStamp`` in ms, ``position`` in characters) and a
  **TranscriptSelection** per segment between its two sync points;
* one **Case** per speaker of each interview, named ``Speaker (interview)``, with the **Variables**
  ``Speaker``, ``Speaker ID``, ``Role`` and ``Interview``, a SourceRef to its interview and a
  SelectionRef to each of its segments;
* one **Code** per speaker of each interview whose guid is the speaker's Case guid (the Case names
  it with a CodeRef): every selection of that speaker carries a **Coding** with this code, so a
  coder can retrieve each speaker's text, and QualCoder (which links a Case to text only through a
  Code of the same guid) gives each case its text;
* every selection also carries its timespan as its **Description** (clients show it as the coding's
  memo; a selection without a Coding would arrive in QualCoder as an empty annotation).

GUIDs are uuid5 of the interview id and the content, so the same transcripts give the same project,
byte for byte (zip entries carry a fixed date; the project carries no creation time).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from pipeline.export.base import (
    ExportError,
    Line,
    ProjectWriter,
    parse_hms,
    timespan_millis,
    turns,
    zip_info,
)
from pipeline.schema import Transcript

logger = logging.getLogger(__name__)

NS = "urn:QDA-XML:project:1.0"
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:interview-pipeline:refi-qda")
VARIABLES = ("Speaker", "Speaker ID", "Role", "Interview")
ORIGIN = "interview-pipeline"


def guid(*parts: object) -> str:
    return str(uuid.uuid5(GUID_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _el(parent: etree._Element | None, tag: str, **attrs: str) -> etree._Element:
    qname = f"{{{NS}}}{tag}"
    if parent is None:
        return etree.Element(qname, attrs, nsmap={None: NS})
    return etree.SubElement(parent, qname, attrs)


@dataclass
class _Laid:
    """An interview laid out as text: the text and, per non-empty segment, its character span."""

    text: str
    spans: list[tuple[Line, int, int]]


def lay_out(transcript: Transcript) -> _Laid:
    parts: list[str] = []
    spans: list[tuple[Line, int, int]] = []
    pos = 0
    for turn in turns(transcript):
        prefix = f"{turn.speaker}: "
        parts.append(prefix)
        pos += len(prefix)
        for i, line in enumerate(turn.lines):
            if i:
                parts.append(" ")
                pos += 1
            spans.append((line, pos, pos + len(line.text)))
            parts.append(line.text)
            pos += len(line.text)
        parts.append("\n")
        pos += 1
    return _Laid("".join(parts), spans)


@dataclass
class _Source:
    transcript: Transcript
    laid: _Laid
    guid: str
    text_entry: str  # zip entry of the plain text
    selection_guids: list[str]
    audio: Path | None = None
    audio_entry: str | None = None

    def case_guid(self, speaker_id: str | None) -> str:
        """The guid of a speaker's Case and of its Code (one guid: QualCoder links them by it)."""
        t = self.transcript
        return guid("case", t.interview_id, speaker_id, t.speaker_label(speaker_id))

    def case_name(self, speaker_id: str | None) -> str:
        """``Label (interview)``; ``Label [id] (interview)`` when two speakers share a label, since
        clients keep code and case names unique."""
        t = self.transcript
        label = t.speaker_label(speaker_id)
        shared = {ln.speaker_id for ln, _, _ in self.laid.spans if t.speaker_label(ln.speaker_id) == label}
        return (
            f"{label} [{speaker_id}] ({t.interview_id})" if len(shared) > 1 else f"{label} ({t.interview_id})"
        )

    def speaker_codes(self) -> dict[str, str]:
        """{case guid: code name} for every speaker with a selection, in order of appearance."""
        out: dict[str, str] = {}
        for ln, _, _ in self.laid.spans:
            if (g := self.case_guid(ln.speaker_id)) not in out:
                out[g] = self.case_name(ln.speaker_id)
        return out

    def code_selection(self, el: etree._Element, line: Line, sel_guid: str) -> None:
        """A selection's timespan as its Description and its speaker's Coding (schema order)."""
        _el(el, "Description").text = timespan_millis(line.start, line.end)
        coding = _el(el, "Coding", guid=guid("coding", sel_guid))
        _el(coding, "CodeRef", targetGUID=self.case_guid(line.speaker_id))


class QdpxWriter(ProjectWriter):
    name = "qdpx"
    filename = "project.qdpx"

    def render(self, transcripts, config, audio_paths=None) -> bytes:
        buf = io.BytesIO()
        self._build(transcripts, config, audio_paths, buf)
        return buf.getvalue()

    def write(self, transcripts, root, config, audio_paths=None):
        from pipeline.store import atomic_path

        target = root / self.filename
        with atomic_path(target) as tmp, open(tmp, "wb") as f:
            self._build(transcripts, config, audio_paths, f)
        return [target]

    # -- building -------------------------------------------------------------------------------

    def _sources(self, transcripts, config, audio_paths) -> list[_Source]:
        sources = []
        for t in transcripts:
            laid = lay_out(t)
            text_hash = hashlib.sha256(laid.text.encode("utf-8")).hexdigest()
            audio = None
            if config.include_audio_in_qdpx and audio_paths:
                audio = audio_paths.get(t.interview_id)
                if audio is None:
                    logger.warning("qdpx: no recording given for %s; exported as text only", t.interview_id)
                elif not Path(audio).is_file():
                    raise ExportError(f"qdpx: recording for {t.interview_id} not found: {Path(audio).name}")
            if audio is not None:
                audio = Path(audio)
                from pipeline.store import sha256_file

                sguid = guid("audio", t.interview_id, sha256_file(audio), text_hash)
                text_guid = guid("transcript", sguid)
                audio_entry = f"sources/{sguid}{audio.suffix.lower()}"
            else:
                sguid = guid("text", t.interview_id, text_hash)
                text_guid, audio_entry = sguid, None
            sel = [guid("selection", sguid, ln.segment_id, a, b) for ln, a, b in laid.spans]
            sources.append(_Source(t, laid, sguid, f"sources/{text_guid}.txt", sel, audio, audio_entry))
        return sources

    def _build(self, transcripts, config, audio_paths, fileobj: BinaryIO) -> None:
        sources = self._sources(transcripts, config, audio_paths)
        qde = self._project_xml(sources, config)
        with zipfile.ZipFile(fileobj, "w") as zf:
            zf.writestr(zip_info("project.qde"), qde)
            for src in sources:
                zf.writestr(zip_info(src.text_entry), src.laid.text.encode("utf-8"))
                if src.audio is not None:
                    size = src.audio.stat().st_size
                    with (
                        open(src.audio, "rb") as a,
                        zf.open(
                            zip_info(src.audio_entry, compress=False), "w", force_zip64=size > 2**31 - 1
                        ) as dst,
                    ):
                        shutil.copyfileobj(a, dst, 1 << 20)
        logger.info(
            "qdpx: %d interview(s), %d with audio, %d selection(s)",
            len(sources),
            sum(s.audio is not None for s in sources),
            sum(len(s.selection_guids) for s in sources),
        )

    def _project_xml(self, sources: list[_Source], config) -> bytes:
        root = _el(None, "Project", name=config.project_name, origin=ORIGIN)
        codes = _el(_el(root, "CodeBook"), "Codes")
        for src in sources:
            for case_guid, name in src.speaker_codes().items():
                _el(codes, "Code", guid=case_guid, name=name, isCodable="true")
        if len(codes) == 0:
            root.remove(codes.getparent())
        variables = _el(root, "Variables")
        var_guids = {}
        for name in VARIABLES:
            var_guids[name] = guid("variable", name)
            _el(variables, "Variable", guid=var_guids[name], name=name, typeOfVariable="Text")
        cases = _el(root, "Cases")
        for src in sources:
            self._cases(cases, src, var_guids)
        if len(cases) == 0:
            root.remove(cases)
        src_el = _el(root, "Sources")
        for src in sources:
            if src.audio is None:
                self._text_source(src_el, src)
            else:
                self._audio_source(src_el, src)
        if len(src_el) == 0:
            root.remove(src_el)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)

    @staticmethod
    def _cases(parent, src: _Source, var_guids: dict[str, str]) -> None:
        t = src.transcript
        by_speaker: dict[str | None, list[str]] = {}
        for (ln, _, _), sel in zip(src.laid.spans, src.selection_guids, strict=True):
            by_speaker.setdefault(ln.speaker_id, []).append(sel)
        roles = {sp.id: sp.role for sp in t.speakers}
        for speaker_id, sels in by_speaker.items():
            label = t.speaker_label(speaker_id)
            case_guid = src.case_guid(speaker_id)
            case = _el(parent, "Case", guid=case_guid)
            case.set("name", src.case_name(speaker_id))
            _el(case, "CodeRef", targetGUID=case_guid)
            values = {
                "Speaker": label,
                "Speaker ID": speaker_id or "",
                "Role": roles.get(speaker_id, "unknown"),
                "Interview": t.interview_id,
            }
            for name, value in values.items():
                vv = _el(case, "VariableValue")
                _el(vv, "VariableRef", targetGUID=var_guids[name])
                _el(vv, "TextValue").text = value
            _el(case, "SourceRef", targetGUID=src.guid)
            for sel in sels:
                _el(case, "SelectionRef", targetGUID=sel)

    @staticmethod
    def _text_source(parent, src: _Source) -> None:
        el = _el(parent, "TextSource", guid=src.guid, name=src.transcript.interview_id)
        el.set("plainTextPath", f"internal://{src.text_entry.removeprefix('sources/')}")
        for (ln, a, b), sel in zip(src.laid.spans, src.selection_guids, strict=True):
            sel_el = _el(
                el,
                "PlainTextSelection",
                guid=sel,
                name=timespan_millis(ln.start, ln.end),
                startPosition=str(a),
                endPosition=str(b),
            )
            src.code_selection(sel_el, ln, sel)

    @staticmethod
    def _audio_source(parent, src: _Source) -> None:
        el = _el(parent, "AudioSource", guid=src.guid, name=src.transcript.interview_id)
        el.set("path", f"internal://{src.audio_entry.removeprefix('sources/')}")
        tguid = src.text_entry.removeprefix("sources/").removesuffix(".txt")
        tr = _el(el, "Transcript", guid=tguid, name=src.transcript.interview_id)
        tr.set("plainTextPath", f"internal://{tguid}.txt")
        points = []
        for i, (ln, a, b) in enumerate(src.laid.spans):
            p_from, p_to = guid("sync", tguid, i, "from"), guid("sync", tguid, i, "to")
            _el(tr, "SyncPoint", guid=p_from, timeStamp=str(round(ln.start * 1000)), position=str(a))
            _el(tr, "SyncPoint", guid=p_to, timeStamp=str(round(ln.end * 1000)), position=str(b))
            points.append((p_from, p_to))
        for (ln, _, _), sel, (p_from, p_to) in zip(src.laid.spans, src.selection_guids, points, strict=True):
            sel_el = _el(
                tr,
                "TranscriptSelection",
                guid=sel,
                name=timespan_millis(ln.start, ln.end),
                fromSyncPoint=p_from,
                toSyncPoint=p_to,
            )
            src.code_selection(sel_el, ln, sel)


# ---------------------------------------------------------------------------------------------
# Reading back
# ---------------------------------------------------------------------------------------------


@dataclass
class QdpxSegment:
    start: float
    end: float
    text: str
    speaker: str | None = None  # the Case's "Speaker" variable
    speaker_id: str | None = None


@dataclass
class QdpxInterview:
    name: str
    kind: str  # "text" or "audio"
    text: str
    segments: list[QdpxSegment] = field(default_factory=list)
    audio_entry: str | None = None


@dataclass
class QdpxProject:
    name: str
    qde: bytes
    entries: list[str]
    interviews: dict[str, QdpxInterview] = field(default_factory=dict)


_TIMESPAN = re.compile(r"^(\d+:\d{2}:\d{2}[.,]\d+)-(\d+:\d{2}:\d{2}[.,]\d+)$")


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _internal(zf: zipfile.ZipFile, ref: str | None) -> str:
    if not ref or not ref.startswith("internal://"):
        raise ExportError(f"qdpx: unsupported source path {ref!r}")
    return f"sources/{ref.removeprefix('internal://')}"


def read_qdpx(source: str | Path | bytes) -> QdpxProject:
    """Read a project written by ``QdpxWriter``: interviews, their segments, speakers and times.

    Segment times come from the selection names (text sources) or the sync points (audio sources);
    speakers from the Cases that reference each selection.
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        qde = zf.read("project.qde")
        root = etree.fromstring(qde)
        var_names = {v.get("guid"): v.get("name") for v in root.iter(_q("Variable"))}
        speaker_of: dict[str, tuple[str | None, str | None]] = {}
        for case in root.iter(_q("Case")):
            values = {}
            for vv in case.findall(_q("VariableValue")):
                ref = vv.find(_q("VariableRef")).get("targetGUID")
                values[var_names.get(ref)] = vv.findtext(_q("TextValue")) or ""
            for sel in case.findall(_q("SelectionRef")):
                speaker_of[sel.get("targetGUID")] = (values.get("Speaker"), values.get("Speaker ID") or None)
        project = QdpxProject(root.get("name"), qde, zf.namelist())
        for src in root.iter(_q("TextSource")):
            text = zf.read(_internal(zf, src.get("plainTextPath"))).decode("utf-8")
            iv = QdpxInterview(src.get("name"), "text", text)
            for sel in src.findall(_q("PlainTextSelection")):
                m = _TIMESPAN.match(sel.get("name") or "")
                if not m:
                    raise ExportError(f"qdpx: selection {sel.get('guid')} has no timespan name")
                a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
                iv.segments.append(
                    QdpxSegment(
                        parse_hms(m.group(1)),
                        parse_hms(m.group(2)),
                        text[a:b],
                        *speaker_of.get(sel.get("guid"), (None, None)),
                    )
                )
            project.interviews[iv.name] = iv
        for src in root.iter(_q("AudioSource")):
            tr = src.find(_q("Transcript"))
            text = zf.read(_internal(zf, tr.get("plainTextPath"))).decode("utf-8")
            iv = QdpxInterview(src.get("name"), "audio", text, audio_entry=_internal(zf, src.get("path")))
            points = {p.get("guid"): p for p in tr.findall(_q("SyncPoint"))}
            for sel in tr.findall(_q("TranscriptSelection")):
                p_from, p_to = points[sel.get("fromSyncPoint")], points[sel.get("toSyncPoint")]
                a, b = int(p_from.get("position")), int(p_to.get("position"))
                iv.segments.append(
                    QdpxSegment(
                        int(p_from.get("timeStamp")) / 1000,
                        int(p_to.get("timeStamp")) / 1000,
                        text[a:b],
                        *speaker_of.get(sel.get("guid"), (None, None)),
                    )
                )
            project.interviews[iv.name] = iv
    return project
