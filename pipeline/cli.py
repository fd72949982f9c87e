"""``interview-pipeline``: parse, validate, call the library, set the exit status."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from pipeline.config import ConfigError, PipelineConfig, load_config

logger = logging.getLogger("pipeline")

PASSPHRASE_ENV = "INTERVIEW_PIPELINE_PASSPHRASE"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _LogFile(logging.FileHandler):
    """The run's log file. A log that cannot be written (full disk) is said once, in one line, not
    with logging's traceback for every record; the run goes on and reports its own errors."""

    _warned = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self._warned:
            self._warned = True
            exc = sys.exc_info()[1]
            reason = _os_reason(exc) if isinstance(exc, OSError) else type(exc).__name__
            print(f"warning: cannot write the log file {self.baseFilename} ({reason})", file=sys.stderr)


def _os_reason(e: OSError) -> str:
    return (e.strerror or type(e).__name__).lower()


def _setup_logging(out: Path | None, command: str, verbose: int) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for h in list(root.handlers):
        root.removeHandler(h)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    if out is not None:
        logs = out / "logs"
        from pipeline.store import ensure_dir

        ensure_dir(logs)
        path = logs / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        fh = _LogFile(path, encoding="utf-8")
        os.chmod(path, 0o600)
        fh.setLevel(logging.INFO)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    # Libraries that would otherwise chat at INFO (and never with our data) stay at WARNING.
    for noisy in ("faster_whisper", "presidio-analyzer", "distributed", "urllib3", "httpx", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _passphrase(args: argparse.Namespace) -> str | None:
    """The key passphrase from a file, the prompt or the environment; an empty one is refused
    (it would leave the key unencrypted while the user believes it is protected)."""
    if getattr(args, "passphrase_file", None):
        try:
            value = Path(args.passphrase_file).read_text(encoding="utf-8").strip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(
                f"{args.passphrase_file}: cannot read passphrase file ({type(e).__name__})"
            ) from e
        return _non_empty(value, f"{args.passphrase_file}: the passphrase file is empty")
    if getattr(args, "ask_passphrase", False):
        import getpass

        return _non_empty(getpass.getpass("Key passphrase: "), "the passphrase given at the prompt is empty")
    if PASSPHRASE_ENV in os.environ:
        return _non_empty(os.environ[PASSPHRASE_ENV], f"{PASSPHRASE_ENV} is set but empty")
    return None


def _non_empty(value: str, problem: str) -> str:
    if not value.strip():
        raise ConfigError(f"{problem}; refusing to write the key unencrypted (give a passphrase, or none)")
    return value


def _config(args: argparse.Namespace) -> PipelineConfig:
    overrides = {
        "transcribe.engine": getattr(args, "engine", None),
        "transcribe.model": getattr(args, "model", None),
        "transcribe.language": getattr(args, "language", None),
        "run.workers": getattr(args, "workers", None),
        "run.executor": getattr(args, "executor", None),
        "run.scheduler": getattr(args, "scheduler", None),
        "speakers.num_speakers": getattr(args, "speakers", None),
        "speakers.min_speakers": getattr(args, "min_speakers", None),
        "speakers.max_speakers": getattr(args, "max_speakers", None),
    }
    if getattr(args, "format", None):
        overrides["export.formats"] = [f.strip() for f in ",".join(args.format).split(",") if f.strip()]
    return load_config(args.config, overrides)


def _print_summary(outcomes) -> None:
    if not outcomes:
        print("No input files found.")
        return
    rows = [("interview", "audio", "status", "stages run", "skipped", "reason")]
    for o in outcomes:
        dur = f"{o.duration / 60:.1f} min" if o.duration else "-"
        rows.append(
            (
                o.interview_id,
                dur,
                o.status,
                ",".join(o.stages_run) or "-",
                ",".join(o.stages_skipped) or "-",
                o.error or "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    print()
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + ("  " + r[5] if r[5] else ""))
    failed = sum(o.status != "done" for o in outcomes)
    print(f"\n{len(outcomes) - failed} done, {failed} failed")
    guarded = [o.guard for o in outcomes if getattr(o, "guard", None)]
    if guarded:
        removed = sum(g.get("removed", 0) for g in guarded)
        recovered = sum(g.get("words_recovered", 0) for g in guarded)
        inaudible = sum(g.get("inaudible", 0) for g in guarded)
        print(
            f"transcripts: {removed} invented words removed, {recovered} words recovered from "
            f"wordless speech, {inaudible} [inaudible] markers (per file: transcript.asr.json provenance)"
        )
    for o in outcomes:
        if getattr(o, "count_note", None):
            print(f"speakers {o.interview_id}: {o.count_note}")


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline.runner import Coordinator

    config = _config(args)
    coordinator = Coordinator(args.out, config, passphrase=_passphrase(args), progress=not args.no_progress)
    outcomes = coordinator.run(args.inputs)
    _print_summary(outcomes)
    return EXIT_FAILED if any(o.status != "done" for o in outcomes) else EXIT_OK


def cmd_deidentify(args: argparse.Namespace) -> int:
    from pipeline.runner import Coordinator

    config = _config(args)
    missing = [p for p in args.files if not Path(p).is_file()]
    coordinator = Coordinator(args.out, config, passphrase=_passphrase(args), progress=not args.no_progress)
    outcomes = coordinator.run([p for p in args.files if Path(p).is_file()], transcripts=True)
    from pipeline.runner import Outcome

    outcomes = [Outcome("-", str(p), "failed", f"{p}: no such file", "speakers") for p in missing] + outcomes
    _print_summary(outcomes)
    return EXIT_FAILED if any(o.status != "done" for o in outcomes) else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.runner import Coordinator
    from pipeline.store import Manifest, OutputLock

    config = _config(args)
    missing = ConfigError(f"{args.out}: no pipeline output here (manifest.json missing)")
    if not Path(args.out).is_dir():
        raise missing
    c = Coordinator(args.out, config, progress=False)
    with OutputLock(args.out):  # first: a run that is still starting has no manifest yet
        if not c.layout.manifest_path.is_file():
            raise missing
        c.manifest = Manifest.load(c.layout)
        written = c.export()
    print(
        f"{len(written)} file(s) written under {c.layout.shareable_root}"
        if written
        else "Exports are up to date."
    )
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from pipeline.runner import ALL_STAGES, PROJECT
    from pipeline.store import Layout, Manifest

    layout = Layout(args.out)
    if not layout.manifest_path.is_file():
        print(f"{args.out}: no pipeline output here (manifest.json missing)", file=sys.stderr)
        return EXIT_FAILED
    m = Manifest.load(layout)
    from pipeline.review import interview_review_state

    rows = [("interview", "audio", *ALL_STAGES[:-1], "review", "file")]
    failed = 0
    for iid, rec in sorted(m.interviews.items()):
        if iid == PROJECT:
            continue
        stages = rec.get("stages", {})
        cells = [stages.get(s, {}).get("status", "-") for s in ALL_STAGES[:-1]]
        failed += "failed" in cells
        dur = rec.get("duration")
        source = Path(rec["source"]).name if rec.get("source") else "-"
        review = interview_review_state(args.out, iid)
        rows.append((iid, f"{dur / 60:.1f} min" if dur else "-", *cells, review, source))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    export = m.interviews.get(PROJECT, {}).get("stages", {}).get("export", {})
    print(f"\nexport: {export.get('status', 'not run')}")
    for iid, rec in sorted(m.interviews.items()):
        for s, st in rec.get("stages", {}).items():
            if st.get("status") == "failed":
                print(f"{iid}: {s} failed: {st.get('error')}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    from pipeline.review import write_review_pages

    pages = write_review_pages(Path(args.out), interview=args.interview)
    for p in pages:
        print(p)
    return EXIT_OK


def cmd_apply_review(args: argparse.Namespace) -> int:
    from pipeline.review import apply_review

    config = _config(args)
    summary = apply_review(
        Path(args.out), Path(args.decisions), config, config_path=args.config, passphrase=_passphrase(args)
    )
    print(summary)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from pipeline.doctor import report, run_checks

    checks = run_checks(_config(args), args.out)
    print(report(checks))
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILED


class _HelpFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" once, only for an option with a default of its own that its help does not
    already state (options whose default comes from the configuration say so in their help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.default in (None, False, 0, argparse.SUPPRESS)
        ):
            return text
        return text + " (default: %(default)s)"


def _from_config(key: str, none: str = "none") -> str:
    """The text "(default: X; configuration key K)" for a dotted configuration key K."""
    value: object = PipelineConfig()
    for part in key.split("."):
        value = getattr(value, part)
    shown = none if value in (None, 0) else value
    return f"(default: {shown}; configuration key {key})"


def build_parser() -> argparse.ArgumentParser:
    fmt = _HelpFormatter
    p = argparse.ArgumentParser(
        prog="interview-pipeline",
        description="Transcribe, speaker-tag and pseudonymise research interviews, offline. "
        "Identifiable material goes to OUT/restricted/, what may be shared to OUT/shareable/.",
        formatter_class=fmt,
    )
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="log progress (ids, counts, durations) to stderr"
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(sp: argparse.ArgumentParser, out_positional: bool = False) -> None:
        sp.add_argument("--config", metavar="FILE", help="YAML configuration (see configs/default.yaml)")
        sp.add_argument(
            "--passphrase-file",
            metavar="FILE",
            help=f"encrypt the key with the passphrase in FILE (or set {PASSPHRASE_ENV})",
        )
        sp.add_argument("--ask-passphrase", action="store_true", help="prompt for the key passphrase")
        sp.add_argument("--no-progress", action="store_true", help="no progress bars")

    r = sub.add_parser(
        "run",
        help="transcribe, tag speakers, pseudonymise and export recordings",
        formatter_class=fmt,
        description="Run every stage on audio/video files and folders; finished work is skipped on a re-run.",
    )
    r.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="audio or video files, or folders searched recursively"
    )
    r.add_argument("--out", required=True, type=Path, help="output folder")
    r.add_argument(
        "--engine",
        choices=["faster-whisper", "openai-whisper"],
        help=f"speech recognition engine {_from_config('transcribe.engine')}",
    )
    r.add_argument(
        "--model",
        help="tiny.en or base offline; a model folder; a hub name with network "
        + _from_config("transcribe.model"),
    )
    r.add_argument(
        "--language",
        help="language code such as en or da " + _from_config("transcribe.language", "detect per file"),
    )
    r.add_argument(
        "--speakers",
        type=int,
        metavar="N",
        help="number of speakers, when known " + _from_config("speakers.num_speakers", "estimate"),
    )
    r.add_argument(
        "--min-speakers",
        type=int,
        metavar="N",
        help="at least N speakers, when the count is not known " + _from_config("speakers.min_speakers"),
    )
    r.add_argument(
        "--max-speakers",
        type=int,
        metavar="N",
        help="at most N speakers, when the count is not known " + _from_config("speakers.max_speakers"),
    )
    r.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes " + _from_config("run.workers", "from cores and memory"),
    )
    r.add_argument(
        "--executor",
        choices=["local", "dask", "dask-local"],
        help="where the audio stages run " + _from_config("run.executor"),
    )
    r.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (with --executor dask)"
    )
    common(r)
    r.set_defaults(func=cmd_run)

    d = sub.add_parser(
        "deidentify",
        help="pseudonymise existing transcripts (JSON or 'Speaker: text' lines)",
        formatter_class=fmt,
    )
    d.add_argument("files", nargs="+", metavar="FILE")
    d.add_argument("--out", required=True, type=Path, help="output folder (shares the key with earlier runs)")
    common(d)
    d.set_defaults(func=cmd_deidentify)

    e = sub.add_parser(
        "export", help="write coding-tool formats from the pseudonymised transcripts", formatter_class=fmt
    )
    e.add_argument("out", type=Path, metavar="OUT")
    e.add_argument(
        "--format",
        action="append",
        metavar="FMT",
        help="format(s), comma-separated: txt, docx, nvivo, maxqda, qdpx, srt, vtt, json, csv",
    )
    common(e)
    e.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "status", help="show what is done, failed or pending in an output folder", formatter_class=fmt
    )
    s.add_argument("out", type=Path, metavar="OUT")
    s.set_defaults(func=cmd_status)

    rv = sub.add_parser(
        "review",
        help="write the offline review page(s) under OUT/restricted/<interview>/review.html",
        formatter_class=fmt,
    )
    rv.add_argument("out", type=Path, metavar="OUT")
    rv.add_argument("--interview", metavar="ID", help="only this interview")
    rv.set_defaults(func=cmd_review)

    ar = sub.add_parser(
        "apply-review",
        help="apply a reviewer's decisions.json and redo pseudonymisation and exports",
        formatter_class=fmt,
    )
    ar.add_argument("out", type=Path, metavar="OUT")
    ar.add_argument("decisions", type=Path, metavar="DECISIONS_JSON")
    common(ar)
    ar.set_defaults(func=cmd_apply_review)

    dr = sub.add_parser(
        "doctor",
        help="check this installation (Python, ffmpeg, models, disk, cores, memory, engine); "
        "paste the output into a support request",
        formatter_class=fmt,
        description="One screen on what a run would use. Reads no recording; shows no file names.",
    )
    dr.add_argument("--config", metavar="FILE", help="YAML configuration to check (see configs/default.yaml)")
    dr.add_argument("--out", type=Path, metavar="OUT", help="output folder whose free disk space to check")
    dr.set_defaults(func=cmd_doctor)
    return p


WRITING_COMMANDS = ("run", "deidentify", "export", "review", "apply-review")
CREATING_COMMANDS = ("run", "deidentify")  # the others need an existing output folder


def _prepare_output(out: Path, create: bool) -> None:
    """Refuse a misplaced output folder or links inside it; create it 0700 (not from the umask)."""
    from pipeline.store import check_output_folder, ensure_dir

    check_output_folder(out)
    if create:
        ensure_dir(out)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = getattr(args, "out", None)
    if args.command == "run" and args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.command == "run" and args.executor == "dask" and not args.scheduler:
        parser.error("--executor dask needs --scheduler tcp://HOST:PORT")
    try:
        writes = out is not None and args.command in WRITING_COMMANDS
        if writes:
            _prepare_output(Path(out), create=args.command in CREATING_COMMANDS)
        # Read-only commands (status) write nothing, not even a log: they work on a read-only folder.
        _setup_logging(Path(out) if writes and Path(out).is_dir() else None, args.command, args.verbose)
        return args.func(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; finished work is kept, re-run to continue", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - last resort: one line, no traceback with data
        from pipeline.store import StoreError

        if isinstance(e, (StoreError, ValueError, OSError)):
            print(f"error: {e}", file=sys.stderr)
            return EXIT_FAILED
        from pipeline.logs import log_failure

        log_failure(logger, "unexpected error", exc=e)
        print(f"error: unexpected {type(e).__name__}; see the log under OUT/logs", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
