"""Runs the stages over a batch: resumable, one lock per output folder, one manifest.

Audio stages (ingest -> transcribe -> speakers) run per interview, in this process or in worker
processes. The coordinator (this process) then pseudonymises and exports the interviews in id
order, so pseudonyms are assigned in the same order on every run, and it alone writes the
manifest and the key.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.logs import log_failure
from pipeline.schema import AudioInfo, SchemaError, Transcript
from pipeline.stages import ingest, transcribe
from pipeline.store import (
    Layout,
    Manifest,
    OutputLock,
    StageRecord,
    StoreError,
    atomic_write_text,
    now,
    sha256_file,
    sha256_json,
    slugify,
)

logger = logging.getLogger(__name__)

AUDIO_STAGES = ("ingest", "transcribe", "speakers")
ALL_STAGES = (*AUDIO_STAGES, "deidentify", "export")
MEDIA_SUFFIXES = {
    ".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".wma", ".aif", ".aiff", ".amr",
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".3gp", ".wmv",
}  # fmt: skip
SPEAKERS_NAME = "transcript.json"  # the speaker-tagged raw transcript: what deidentify reads
PROJECT = "_project"


@dataclass
class Job:
    """One interview: where it comes from and what is already known about its stages."""

    interview_id: str
    source: str
    kind: str = "audio"  # "audio" | "transcript" (an existing transcript to pseudonymise)


@dataclass
class Outcome:
    interview_id: str
    source: str
    status: str = "done"  # "done" | "failed"
    error: str | None = None
    failed_stage: str | None = None
    duration: float | None = None
    stages_run: list[str] = field(default_factory=list)
    stages_skipped: list[str] = field(default_factory=list)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    guard: dict[str, int] | None = None  # transcribe's guard counts (words removed, inaudible markers)
    count_note: str | None = None  # speakers: why the asked number of speakers was not reached (counts only)


# ---------------------------------------------------------------------------------------------
# Discovery and ids


def discover(inputs: Iterable[str | Path]) -> tuple[list[Path], list[Outcome]]:
    """Expand files and folders into media files; missing paths become failures, not exceptions."""
    files: list[Path] = []
    missing: list[Outcome] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES)
            if not found:
                logger.warning("%s: folder holds no audio or video files", p)
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            missing.append(
                Outcome(
                    interview_id="-",
                    source=str(p),
                    status="failed",
                    error=f"{p}: no such file or folder",
                    failed_stage="ingest",
                )
            )
    seen: set[Path] = set()
    unique = []
    for f in files:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(f)
    return unique, missing


# Names an interview id must not take: the fixed files and folders of an output folder. An id
# "transcript" would make its export shareable/transcript/transcript.json, the deidentify stage's file.
RESERVED_IDS = frozenset(
    {PROJECT, "transcript", "audio", "ingest", "redactions", "review", "key", "logs", "manifest"}
)
NEUTRAL_PREFIX = "interview"


# Words that researchers put in file names and that name nobody (English and Danish, ASCII-folded).
CODE_WORDS = frozenset(
    """interview interviews int intv participant participants deltager deltagere informant respondent
    session sessions recording rec optagelse samtale site group gruppe focus fokus fokusgruppe
    followup follow up part round runde wave pilot test final audio lyd video zoom teams call
    opkald meeting mode day am pm take track clip file fil copy kopi new ny version edit raw mono
    stereo mic phone telefon pt patient case sag subject id no nr number nummer study studie project
    projekt baseline visit besog week uge month maned year ar fg ip""".split()
)
# a number of at most 4 digits (longer ones may be a phone or CPR number), a letter, a letter and a
# number (p07, s2b), a code word and a number (int03, fg2);
# not two or more letters and a number: "eva2", "bo1" are names
_CODE_TOKEN = re.compile(r"\d{1,4}[a-z]{0,2}|[a-z]|[a-z]\d+[a-z]?|(?:" + "|".join(sorted(CODE_WORDS)) + r")\d+")


def looks_like_code(stem: str) -> bool:
    """Whether a file name (without suffix) is made of codes only: ``P01``, ``INT-03``,
    ``participant_7``, ``interview-01``, ``2024-03-01_p3``, ``site-a_p03``.

    Only such names become interview ids; any other word might be a name ("Bjarne", "Lotte Friis",
    "Ærø"), and no detector finds every name, so those files get neutral ids.
    """
    words = [w for w in re.split(r"[^a-z0-9]+", slugify(stem)) if w]
    return bool(words) and all(w in CODE_WORDS or _CODE_TOKEN.fullmatch(w) for w in words)


def assign_ids(
    files: list[Path],
    manifest: Manifest,
    *,
    mode: str = "filename",
    names_a_person: Callable[[str], bool] | None = None,
) -> list[Job]:
    """Give each new source an interview id; a source keeps its id across runs (in the manifest).

    ``mode="filename"``: a file name made of codes (:func:`looks_like_code`) is the id, made safe
    (``INT 07.mp3`` -> ``int-07``), unless ``names_a_person(stem)`` says it holds a known name;
    any other file, and every file with ``mode="neutral"``, gets the next free ``interview-NNN``.
    Ids are what ``shareable/`` shows; the manifest (not shareable) maps each to its source.
    """
    jobs: list[Job] = []
    taken = set(manifest.interviews) | RESERVED_IDS
    neutral_count = 0

    def free(base: str) -> str:
        iid, n = base, 2
        while iid in taken:
            iid, n = f"{base}-{n}", n + 1
        return iid

    def next_neutral() -> str:
        n = 1
        while f"{NEUTRAL_PREFIX}-{n:03d}" in taken:
            n += 1
        return f"{NEUTRAL_PREFIX}-{n:03d}"

    for f in files:
        source = str(f.resolve())
        iid = manifest.id_for_source(source)
        if iid is None:
            if mode == "neutral":
                iid = next_neutral()
            elif not looks_like_code(f.stem) or (names_a_person is not None and names_a_person(f.stem)):
                iid = next_neutral()
                neutral_count += 1
            else:
                iid = free(slugify(f.stem))
            manifest.interview(iid)["source"] = source
        taken.add(iid)
        jobs.append(
            Job(
                interview_id=iid,
                source=source,
                kind="transcript" if f.suffix.lower() in (".json", ".txt") else "audio",
            )
        )
    if neutral_count:
        # The file names are not logged: they may hold names.
        logger.info(
            "%d file name(s) are not codes such as P01 or interview-03: given neutral ids "
            "(`interview-pipeline status` shows which file has which id)",
            neutral_count,
        )
    return jobs


def stem_names_a_person(stem: str, known_names: Iterable[str]) -> bool:
    """Whether a file name (without suffix) holds a part of a known name, read as words
    (``jensen_followup`` holds ``Anna Jensen``'s surname), whatever the case and separators."""
    from pipeline.deid.gazetteer import FUNCTION_WORDS, NAME_PARTICLES, fold

    words = {fold(w) for w in re.split(r"[\W_]+", stem) if w}
    for name in known_names:
        parts = {fold(x) for x in re.split(r"[\W_]+", name) if len(x) >= 2}
        if parts - FUNCTION_WORDS - NAME_PARTICLES & words:
            return True
    return False


def _aliases(iid: str, source: str | None) -> set[str]:
    """What a per-interview key may be: the id, the source file's name, its stem, or the stem made
    an id (what the id would have been before neutral ids), compared without case."""
    names = {iid}
    if source:
        p = Path(source)
        names |= {p.name, p.stem, slugify(p.stem)}
    return {n.casefold() for n in names}


def key_overrides(config: PipelineConfig, manifest: Manifest) -> tuple[PipelineConfig, dict[str, int]]:
    """``speakers.interviews`` and ``deidentify.interviews`` keyed by interview id.

    A key may name an interview by its id or by its source file (``P01_Lotte_Friis.m4a``, or its
    stem), so settings still apply when the file got a neutral id. Returns the re-keyed
    configuration and, per section, how many keys name no interview of the output folder.
    """
    aliases = {
        iid: _aliases(iid, rec.get("source")) for iid, rec in manifest.interviews.items() if iid != PROJECT
    }
    unmatched: dict[str, int] = {}
    sections = {}
    for section in ("speakers", "deidentify"):
        cfg = getattr(config, section)
        keyed: dict[str, Any] = {}
        missed = 0
        for key, override in cfg.interviews.items():
            ids = [key] if key in aliases else [i for i, a in aliases.items() if key.casefold() in a]
            missed += not ids
            for iid in ids:
                keyed[iid] = _merge_override(keyed.get(iid), override)
        unmatched[section] = missed
        sections[section] = cfg.model_copy(update={"interviews": keyed})
    return config.model_copy(update=sections), unmatched


def _merge_override(a: Any, b: Any) -> Any:
    """Two keys naming one interview: lists joined, other settings from the one given last."""
    if a is None:
        return b
    merged = a.model_dump()
    for k, v in b.model_dump().items():
        if isinstance(v, list):
            merged[k] = [*merged.get(k, []), *(x for x in v if x not in merged.get(k, []))]
        elif v is not None:
            merged[k] = v
    return type(a).model_validate(merged)


# ---------------------------------------------------------------------------------------------
# Audio stages (may run in a worker process: no manifest writes here)


def _config_hash(config: PipelineConfig, section: str) -> str:
    data = config.section_hash_input(section)
    if section == "transcribe":
        data = {k: v for k, v in data.items() if k not in ("cpu_threads",)}  # threads don't change text
    return sha256_json(data)


class _Stages:
    """Runs one interview's stages: skips a fresh one, records what a run wrote."""

    def __init__(self, manifest: Manifest, outcome: Outcome):
        self.manifest = manifest
        self.outcome = outcome
        self.current = "ingest"  # the stage a failure is reported against

    def __call__(self, stage: str, input_hash: str, config_hash: str, run: Callable[[], list[Path]]) -> bool:
        """Call ``run`` (which returns the paths it wrote) unless the stage is fresh; True when it ran."""
        self.current = stage
        iid = self.outcome.interview_id
        if self.manifest.is_fresh(iid, stage, input_hash, config_hash):
            self.outcome.stages_skipped.append(stage)
            return False
        t0 = time.monotonic()
        outputs = run()
        rec = StageRecord(
            "done",
            input_hash,
            config_hash,
            self.manifest.record_outputs(outputs),
            round(time.monotonic() - t0, 2),
            now(),
        )
        self.outcome.records[stage] = rec.__dict__
        self.manifest.set_stage(iid, stage, rec)
        self.outcome.stages_run.append(stage)
        return True


def run_audio_stages(
    job: Job,
    out: str,
    config: PipelineConfig,
    prior: dict[str, dict[str, Any]],
    *,
    workers: int = 1,
    progress_factory: Callable[[str, float], Any] | None = None,
) -> Outcome:
    """Ingest, transcribe and tag speakers for one interview, skipping stages that are fresh."""
    from pipeline.stages import speakers

    layout = Layout(out)
    manifest = Manifest(layout)
    iid = job.interview_id
    manifest.interview(iid)["stages"] = dict(prior)
    rdir = layout.restricted(iid)
    outcome = Outcome(interview_id=iid, source=job.source)
    step = _Stages(manifest, outcome)
    info: AudioInfo | None = None
    asr: Transcript | None = None
    try:

        def run_ingest() -> list[Path]:
            nonlocal info
            info = ingest.run(job.source, iid, rdir, config.ingest)
            return ingest.output_paths(rdir, info)

        source_hash = sha256_file(job.source) if Path(job.source).is_file() else "missing"
        if not step("ingest", source_hash, _config_hash(config, "ingest"), run_ingest):
            info = AudioInfo.from_dict(json.loads((rdir / ingest.INFO_NAME).read_text()))
        outcome.duration = info.duration

        asr_path = rdir / transcribe.OUTPUT_NAME

        def run_transcribe() -> list[Path]:
            nonlocal asr
            bar = progress_factory(iid, info.duration) if progress_factory else None
            try:
                asr = transcribe.run(
                    info, rdir, config.transcribe, workers=workers, progress=bar.update_to if bar else None
                )
            finally:
                if bar:
                    bar.close()
            atomic_write_text(asr_path, asr.to_json())
            return [asr_path]

        audio_hash = manifest.stage(iid, "ingest").outputs[f"restricted/{iid}/{info.normalized_path}"]
        if not step("transcribe", audio_hash, _config_hash(config, "transcribe"), run_transcribe):
            asr = Transcript.load(asr_path)
        outcome.guard = asr.provenance.get("transcribe", {}).get("guard")

        spk_path = rdir / SPEAKERS_NAME

        def run_speakers() -> list[Path]:
            atomic_write_text(spk_path, speakers.run(asr, info, rdir, config.speakers).to_json())
            return [spk_path]

        stage_outputs = [manifest.stage(iid, s).outputs for s in ("transcribe", "ingest")]
        step("speakers", sha256_json(stage_outputs), _config_hash(config, "speakers"), run_speakers)
        outcome.count_note = Transcript.load(spk_path).provenance.get("speakers", {}).get("count_note")
    except (ingest.InputError, SchemaError, StoreError, ValueError) as e:
        outcome.status, outcome.error, outcome.failed_stage = "failed", str(e), step.current
    except Exception as e:  # one file's failure must not stop the batch
        log_failure(logger, "%s: stage %s failed", iid, step.current, exc=e)
        outcome.status, outcome.failed_stage = "failed", step.current
        outcome.error = f"{Path(job.source).name}: {step.current} failed ({type(e).__name__}; see the log)"
    return outcome


THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pool_initializer(threads: int = 0, log_queue: Any = None, log_level: int = logging.INFO) -> None:
    """Set up a worker process: Ctrl-C is the coordinator's, thread pools sized, logs forwarded.

    Models load on first use and stay loaded for every interview the process runs. ``threads``
    (cores per worker) caps OpenMP/MKL before torch is imported, so N workers never run N x cores
    threads in the speakers stage. ``log_queue`` carries this process's log records to the
    coordinator, which writes them to the run's log file.
    """
    import os
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if threads > 0:
        for var in THREAD_ENV:
            os.environ[var] = str(threads)
    if log_queue is not None:
        from logging.handlers import QueueHandler

        root = logging.getLogger()
        root.handlers = [QueueHandler(log_queue)]
        root.setLevel(log_level)


def audio_config_json(config: PipelineConfig) -> str:
    """The configuration a worker needs: the audio stages' sections only.

    The de-identification section (known names, project lists) and the export section stay in the
    coordinator: they are not sent to worker processes or over a Dask cluster's connections.
    """
    return PipelineConfig(
        ingest=config.ingest, transcribe=config.transcribe, speakers=config.speakers, run=config.run
    ).model_dump_json()


def run_audio_stages_in_worker(args: tuple) -> Outcome:
    """Entry point in a worker (process pool or Dask): ``(job, out, config_json, prior, workers)``."""
    job, out, config_json, prior, workers = args
    config = PipelineConfig.model_validate_json(config_json)
    return run_audio_stages(job, out, config, prior, workers=workers)


class _Forward(logging.Handler):
    """Hands a worker's log record to the coordinator's logger of the same name."""

    def handle(self, record: logging.LogRecord) -> bool:
        logger_ = logging.getLogger(record.name)
        if logger_.isEnabledFor(record.levelno):
            logger_.handle(record)
        return True


# ---------------------------------------------------------------------------------------------
# Coordinator: pseudonymise and export in id order; the only writer of the manifest and the key


class _SecondsBar:
    """A tqdm bar over audio seconds that engines can push absolute positions into."""

    def __init__(self, label: str, total: float, enabled: bool):
        from tqdm import tqdm

        self._bar = tqdm(
            total=round(total, 1),
            desc=f"  {label}",
            unit="s audio",
            leave=False,
            disable=not enabled,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s [{elapsed}<{remaining}]",
        )

    def update_to(self, seconds: float) -> None:
        self._bar.update(max(0.0, min(seconds, self._bar.total) - self._bar.n))

    def close(self) -> None:
        self._bar.close()



def configured_roles(labels: list[str], role_labels: list[str]) -> list[str]:
    """The configured speaker labels that name a role ('Interviewer', 'Deltager', 'P{n}', or one of
    ``deidentify.role_labels``) and so are kept; any other label ('Mogens Kjær', 'Interviewer MK') is
    pseudonymised like a name."""
    from pipeline.deid.language import is_role_label

    return [lb for lb in labels if is_role_label(lb.replace("{n}", "1"), role_labels)]


class Coordinator:
    def __init__(
        self, out: str | Path, config: PipelineConfig, *, passphrase: str | None = None, progress: bool = True
    ):
        from pipeline.review import load_project_lists, merge_project_lists

        self.layout = Layout(out)
        # Names and terms added during review apply to every command on this output folder.
        self.config = merge_project_lists(config, load_project_lists(out))
        self.passphrase = passphrase
        self.progress = progress
        self.manifest: Manifest | None = None
        self._deidentifier = None
        self._key = None
        self._overrides_keyed = False

    @property
    def key_path(self) -> Path:
        return self.layout.restricted_root / "key.json"

    # -- de-identification ----------------------------------------------------------------
    def _key_store(self):
        if self._key is None:
            from pipeline.deid.key import PseudonymKey

            self._key = PseudonymKey.load(self.key_path, self.passphrase)
        return self._key

    def _engine(self):
        if self._deidentifier is None:
            from pipeline.deid.engine import Deidentifier

            labels = self.config.speakers.labels
            roles = [labels.interviewer, labels.participant, labels.group_participant, labels.single]
            roles = configured_roles(roles, self.config.deidentify.role_labels)
            self._deidentifier = Deidentifier(self.config.deidentify, role_labels=roles)
        return self._deidentifier

    def _key_overrides(self, strict: bool) -> None:
        """Key per-interview settings by interview id (a key may also be the source file's name or
        stem). ``strict``: a key that names no interview is an error, reported by count, not by its
        text (a key made from a file name may hold a name): settings are never silently unused."""
        if self._overrides_keyed:
            return
        config, unmatched = key_overrides(self.config, self.manifest)
        bad = [f"{n} key(s) under {section}.interviews" for section, n in unmatched.items() if n]
        if strict and bad:
            from pipeline.config import ConfigError

            raise ConfigError(
                f"{' and '.join(bad)} name no interview of {self.layout.out}: a key is an interview id, "
                "a source file's name or its name without the extension (`interview-pipeline status "
                f"{self.layout.out}` lists them); those settings would not be used"
            )
        self.config, self._overrides_keyed = config, True

    def _names_a_person(self, stem: str) -> bool:
        deid = self.config.deidentify
        known = [*deid.known_names, *(n for o in deid.interviews.values() for n in o.known_names)]
        return stem_names_a_person(stem, known)

    def deidentify(self, interview_id: str) -> str:
        """Pseudonymise one interview's speaker-tagged transcript; returns 'run' or 'skipped'."""
        from pipeline.review import apply_decisions, load_decisions
        from pipeline.stages.deidentify import write_deidentified

        m = self.manifest
        self._key_overrides(strict=False)  # apply-review: the run already refused unmatched keys
        src = self.layout.restricted(interview_id) / SPEAKERS_NAME
        decisions = load_decisions(self.layout.out, interview_id)
        input_hash = sha256_json([sha256_file(src), decisions]) if decisions else sha256_file(src)
        chash = _config_hash(self.config, "deidentify")
        if m.is_fresh(interview_id, "deidentify", input_hash, chash):
            return "skipped"
        t0 = time.monotonic()
        raw = Transcript.load(src)
        key = self._key_store()
        shareable, redactions = self._engine().deidentify(raw, key)
        shareable, redactions = apply_decisions(
            raw, shareable, redactions, decisions, key, self.config.deidentify
        )
        rdir, sdir = self.layout.restricted(interview_id), self.layout.shareable(interview_id)
        write_deidentified(shareable, redactions, rdir, sdir)
        key.save(self.key_path)
        outputs = [rdir / "redactions.json", sdir / "transcript.json", sdir / "transcript.txt"]
        m.set_stage(
            interview_id,
            "deidentify",
            StageRecord(
                "done", input_hash, chash, m.record_outputs(outputs), round(time.monotonic() - t0, 2), now()
            ),
        )
        m.save()
        logger.info("%s: %d replacement(s)", interview_id, len(redactions))
        return "run"

    # -- export -------------------------------------------------------------------------
    def export(self) -> list[Path]:
        """Write every configured format for all pseudonymised interviews in this output folder."""
        from pipeline.stages import export as export_stage

        m = self.manifest
        ids = sorted(
            i
            for i in m.interviews
            if i != PROJECT and (m.stage(i, "deidentify") or StageRecord("", "", "")).status == "done"
        )
        if not ids:
            return []
        paths = [self.layout.shareable(i) / "transcript.json" for i in ids]
        input_hash = sha256_json({i: sha256_file(p) for i, p in zip(ids, paths)})
        chash = _config_hash(self.config, "export")
        if m.is_fresh(PROJECT, "export", input_hash, chash):
            return []
        t0 = time.monotonic()
        transcripts = [Transcript.load(p) for p in paths]
        audio = None
        if self.config.export.include_audio_in_qdpx:
            audio = {i: self.layout.restricted(i) / ingest.NORMALIZED_NAME for i in ids}
        written = export_stage.run(
            transcripts, self.layout.shareable_root, self.config.export, audio_paths=audio
        )
        m.set_stage(
            PROJECT,
            "export",
            StageRecord(
                "done",
                input_hash,
                chash,
                m.record_outputs(list(written)),
                round(time.monotonic() - t0, 2),
                now(),
            ),
        )
        m.save()
        return list(written)

    # -- the batch ------------------------------------------------------------------------
    def _merge(self, outcome: Outcome) -> None:
        rec = self.manifest.interview(outcome.interview_id)
        rec["source"] = outcome.source
        for stage, data in outcome.records.items():
            rec["stages"][stage] = data
        if outcome.status == "failed":
            rec["stages"][outcome.failed_stage] = StageRecord(
                "failed", "", "", error=outcome.error, finished_at=now()
            ).__dict__
            for later in ALL_STAGES[ALL_STAGES.index(outcome.failed_stage) + 1 :]:
                rec["stages"].pop(later, None)
        if outcome.duration is not None:
            rec["duration"] = outcome.duration
        self.manifest.save()

    def _finish_one(self, outcome: Outcome) -> None:
        from pipeline.deid.key import KeyFileError
        from pipeline.review import ReviewError

        if outcome.status != "done":
            return
        try:
            step = self.deidentify(outcome.interview_id)
            (outcome.stages_run if step == "run" else outcome.stages_skipped).append("deidentify")
        except Exception as e:
            outcome.status, outcome.failed_stage = "failed", "deidentify"
            if isinstance(e, (StoreError, SchemaError, KeyFileError, ReviewError)):  # ours: ids, paths
                outcome.error = f"{outcome.interview_id}: deidentify failed ({type(e).__name__}: {e})"
            else:
                log_failure(logger, "%s: deidentify failed", outcome.interview_id, exc=e)
                outcome.error = f"{outcome.interview_id}: deidentify failed ({type(e).__name__}; see the log)"
            self._merge(outcome)

    def run(self, jobs_or_inputs: Iterable[str | Path], *, transcripts: bool = False) -> list[Outcome]:
        from tqdm import tqdm

        lock = OutputLock(self.layout.out).acquire()
        try:
            self.layout.create()
            self.layout.remove_stale_temp_files()
            self.manifest = Manifest.load(self.layout)
            self.manifest.save()  # the folder is a pipeline output from the start
            files, outcomes = (
                discover(jobs_or_inputs) if not transcripts else ([Path(p) for p in jobs_or_inputs], [])
            )
            jobs = assign_ids(
                files, self.manifest, mode=self.config.run.ids, names_a_person=self._names_a_person
            )
            self.manifest.save()
            self._key_overrides(strict=True)
            bar = tqdm(total=len(jobs), desc="interviews", unit="file", disable=not self.progress)
            done: list[Outcome] = []
            if transcripts:
                for job in sorted(jobs, key=lambda j: j.interview_id):
                    o = self._ingest_transcript(job)
                    self._merge(o)
                    self._finish_one(o)
                    done.append(o)
                    bar.update(1)
            else:
                done = self._run_audio(jobs, bar)
            bar.close()
            if any(o.status == "done" for o in done):
                self.export()
            return outcomes + sorted(done, key=lambda o: o.interview_id)
        finally:
            lock.release()

    def _ingest_transcript(self, job: Job) -> Outcome:
        """An existing transcript (JSON or 'Speaker: text' lines) enters as the speaker-tagged transcript."""
        from pipeline.stages.deidentify import normalise_input, read_transcript_file

        outcome = Outcome(interview_id=job.interview_id, source=job.source)
        try:
            t = normalise_input(read_transcript_file(Path(job.source)))
            t.interview_id = job.interview_id
            dest = self.layout.restricted(job.interview_id) / SPEAKERS_NAME
            input_hash = sha256_file(job.source)
            if not self.manifest.is_fresh(job.interview_id, "speakers", input_hash, "transcript-input"):
                atomic_write_text(dest, t.to_json())
                outcome.records["speakers"] = StageRecord(
                    "done", input_hash, "transcript-input", self.manifest.record_outputs([dest]), 0.0, now()
                ).__dict__
            outcome.duration = t.duration
        except (SchemaError, StoreError, ValueError, OSError) as e:
            outcome.status, outcome.failed_stage, outcome.error = "failed", "speakers", str(e)
        except (RecursionError, MemoryError) as e:  # this file fails with its reason, the batch goes on
            outcome.status, outcome.failed_stage = "failed", "speakers"
            outcome.error = f"{job.source}: too large or too deeply nested to read ({type(e).__name__})"
        return outcome

    def _run_audio(self, jobs: list[Job], bar) -> list[Outcome]:
        """Run the audio stages on the configured executor; pseudonymise in id order as results come."""
        ordered = sorted(jobs, key=lambda j: j.interview_id)
        results: dict[str, Outcome] = {}
        next_idx = 0
        for o in self._audio_results(ordered):
            self._merge(o)
            results[o.interview_id] = o
            bar.update(1)
            while next_idx < len(ordered) and ordered[next_idx].interview_id in results:
                self._finish_one(results[ordered[next_idx].interview_id])
                next_idx += 1
        return [results[j.interview_id] for j in ordered]

    def _prior(self, job: Job) -> dict[str, Any]:
        return dict(self.manifest.interview(job.interview_id).get("stages", {}))

    def _audio_results(self, ordered: list[Job]) -> Iterator[Outcome]:
        """Yield each interview's audio-stage outcome, in completion order."""
        executor = self.config.run.executor
        if executor != "local":
            from pipeline.distributed import dask_results

            yield from dask_results(ordered, str(self.layout.out), self.config, self._prior)
            return
        workers = resolve_workers(self.config)
        if workers <= 1 or len(ordered) <= 1:
            factory = (
                (lambda label, total: _SecondsBar(label, total, self.progress)) if self.progress else None
            )
            for job in ordered:
                yield run_audio_stages(
                    job,
                    str(self.layout.out),
                    self.config,
                    self._prior(job),
                    workers=1,
                    progress_factory=factory,
                )
            return
        import concurrent.futures as cf
        import multiprocessing as mp
        from logging.handlers import QueueListener

        from pipeline.stages.transcribe import default_threads

        ctx = mp.get_context("spawn")
        log_queue = ctx.Queue()
        listener = QueueListener(log_queue, _Forward())
        listener.start()
        threads = self.config.transcribe.cpu_threads or default_threads(workers)
        level = logging.getLogger("pipeline").getEffectiveLevel()
        cfg = audio_config_json(self.config)
        try:
            with cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=pool_initializer,
                initargs=(threads, log_queue, level),
            ) as pool:
                futures = {
                    pool.submit(
                        run_audio_stages_in_worker,
                        (job, str(self.layout.out), cfg, self._prior(job), workers),
                    ): job
                    for job in ordered
                }
                for fut in cf.as_completed(futures):
                    job = futures[fut]
                    try:
                        yield fut.result()
                    except Exception as e:  # a worker died (killed, out of memory)
                        yield Outcome(
                            job.interview_id,
                            job.source,
                            "failed",
                            f"{Path(job.source).name}: worker failed ({type(e).__name__})",
                            "ingest",
                        )
        finally:
            listener.stop()
            log_queue.close()


CORES_PER_WORKER = 1  # measured on 2 cores: 2 workers x 1 thread ~2x faster than 1 x 2 (docs/throughput.md)
BYTES_PER_WORKER = 2.5e9  # issue 8's ceiling per worker; a base worker peaked near 1 GB on the samples


def size_workers(cores: int, available_bytes: float, configured: int = 0) -> int:
    """Worker processes: ``configured`` if set, else one per core and per 2.5 GB of free memory.

    Each worker decodes with ``cores // workers`` threads (:func:`pipeline.stages.transcribe.default_threads`);
    a batch of one interview runs in the coordinator with every core.
    """
    if configured:
        return configured
    return max(1, min(cores // CORES_PER_WORKER, int(available_bytes / BYTES_PER_WORKER)))


def resolve_workers(config: PipelineConfig) -> int:
    """Worker processes for this machine (``run.workers``, else :func:`size_workers` on its cores and memory)."""
    if config.run.workers:
        return config.run.workers
    import psutil

    return size_workers(transcribe.usable_cores(), psutil.virtual_memory().available)
