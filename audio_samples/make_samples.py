"""Build the two fictional sample interviews from ``dialogue.yaml``.

    python audio_samples/make_samples.py            # writes interview_0N.mp3 + .reference.json here
    python audio_samples/make_samples.py --out /tmp/samples --keep-wav

Voices: hibari-tts (pip, voice "heart") for the interviewer and, pitch-shifted with sox, for the first
participant; espeak-ng for the second participant. Every sentence is synthesised on its own, trimmed to
its speech, levelled and placed on a timeline, so the turn times written to the reference JSON are the
exact sample positions of the speech. Deterministic: hibari is seeded per sentence, sox runs without
dither, the room tone comes from a seeded generator and ffmpeg writes bit-exact MP3 without metadata.
Needs the ``sox``, ``espeak-ng`` and ``ffmpeg`` commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import yaml
from scipy.signal import lfilter

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DIALOGUE = HERE / "dialogue.yaml"

_MARKUP = re.compile(r"\{([^{}|]+)\|([^{}|]+)\}")
_PAUSE = re.compile(r"\[pause\s+([0-9.]+)\]")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
FRAME_S = 0.005  # trimming resolution
TRIM_DB = -45.0  # frames quieter than this (relative to the loudest frame) count as silence
SENTENCE_GAP_S = (0.2, 0.45)


class SampleError(RuntimeError):
    """The dialogue file is inconsistent or an external tool failed; the message names which."""


# ---------------------------------------------------------------------------------------------- text
def reference_text(marked: str) -> str:
    """The transcript a careful transcriber would write: ``{written|spoken}`` -> written, no pauses."""
    text = _PAUSE.sub(" ", _MARKUP.sub(lambda m: m.group(1), marked))
    return " ".join(text.split())


def spoken_chunks(marked: str) -> list[str | float]:
    """What the TTS engine reads: sentences (str) and explicit pauses (float seconds), in order."""
    spoken = _MARKUP.sub(lambda m: m.group(2), marked)
    out: list[str | float] = []
    pos = 0
    for m in list(_PAUSE.finditer(spoken)) + [None]:
        end = m.start() if m else len(spoken)
        chunk = " ".join(spoken[pos:end].split())
        out.extend(s for s in _SENTENCE_END.split(chunk) if s)
        if m:
            out.append(float(m.group(1)))
            pos = m.end()
    return out


# ---------------------------------------------------------------------------------------------- audio
def _run(cmd: list[str]) -> None:
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SampleError(f"command failed: {cmd[0]} ({e})") from e


def _sox(src: Path, dst: Path, sample_rate: int, effects: list[str]) -> np.ndarray:
    """Run sox (no dither, repeatable) and read the result as float32 at ``sample_rate``."""
    _run(["sox", "-D", "-R", str(src), "-e", "floating-point", "-b", "32", str(dst), *effects])
    _run(
        ["sox", "-D", "-R", str(dst), "-e", "floating-point", "-b", "32", str(src), "rate", str(sample_rate)]
    )
    audio, sr = sf.read(src, dtype="float32")
    if sr != sample_rate:
        raise SampleError(f"sox returned {sr} Hz, expected {sample_rate}")
    return audio


@dataclass
class Synth:
    """Synthesises one sentence in one of the configured voices."""

    voices: dict[str, dict[str, Any]]
    sample_rate: int
    workdir: Path
    _hibari: Any = field(default=None, repr=False)

    def hibari(self) -> Any:
        if self._hibari is None:
            from hibari import Hibari

            self._hibari = Hibari(voice="heart", threads=1)
            if self._hibari.sample_rate != self.sample_rate:
                raise SampleError(
                    f"hibari gives {self._hibari.sample_rate} Hz, config says {self.sample_rate}"
                )
        return self._hibari

    def __call__(self, voice: str, text: str, seed: int) -> np.ndarray:
        cfg = self.voices[voice]
        raw = self.workdir / "raw.wav"
        engine = cfg["engine"]
        if engine == "hibari":
            audio = self.hibari()(text, speed=float(cfg.get("speed", 1.0)), seed=seed)
            sf.write(raw, audio, self.sample_rate, subtype="FLOAT")
        elif engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", cfg["voice"], "-s", str(cfg.get("rate", 160))]
            _run([*cmd, "-p", str(cfg.get("pitch", 50)), "-w", str(raw), text])
        else:
            raise SampleError(f"voice {voice!r}: unknown engine {engine!r}")
        return _sox(raw, self.workdir / "fx.wav", self.sample_rate, [str(x) for x in cfg.get("sox", [])])


def trim(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut leading and trailing silence at frame resolution (``TRIM_DB`` below the loudest frame)."""
    n = max(1, int(FRAME_S * sample_rate))
    frames = len(audio) // n
    if frames == 0:
        raise SampleError("synthesised sentence is empty")
    rms = np.sqrt(np.mean(audio[: frames * n].reshape(frames, n) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > TRIM_DB)
    return audio[loud[0] * n : (loud[-1] + 1) * n]


def level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """Scale so the RMS of the non-silent part is ``dbfs``."""
    active = audio[np.abs(audio) > 10 ** (-40 / 20) * np.abs(audio).max()]
    rms = float(np.sqrt(np.mean(active**2)))
    return audio * (10 ** (dbfs / 20) / rms)


def room_tone(n: int, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """Soft brownish noise, RMS ``dbfs``."""
    white = rng.standard_normal(n)
    alpha = 0.97  # one-pole low-pass: mostly low-frequency rumble, like a quiet room
    tone = lfilter([1 - alpha], [1, -alpha], white) + 0.05 * white
    return (tone * (10 ** (dbfs / 20) / float(np.sqrt(np.mean(tone**2))))).astype(np.float32)


# ---------------------------------------------------------------------------------------------- build
def _seed(*parts: object) -> int:
    return zlib.crc32("/".join(map(str, parts)).encode())


def build_interview(spec: dict[str, Any], cfg: dict[str, Any], synth: Synth) -> tuple[np.ndarray, dict]:
    """Audio (float32) and the reference dict for one interview."""
    sr = int(cfg["sample_rate"])
    rng = np.random.default_rng(_seed(cfg["seed"], spec["id"]))
    pieces: list[np.ndarray] = []
    turns, pauses = [], []

    def add(samples: np.ndarray) -> int:
        """Append to the timeline; return the sample index where it starts."""
        at = sum(len(p) for p in pieces)
        pieces.append(samples)
        return at

    for t_idx, turn in enumerate(spec["turns"]):
        speaker = turn["speaker"]
        voice = spec["speakers"][speaker]["voice"]
        add(np.zeros(int(round(float(turn.get("gap", 0.8)) * sr)), np.float32))
        start = end = -1
        after_speech = False
        for c_idx, chunk in enumerate(spoken_chunks(turn["text"])):
            if isinstance(chunk, float):
                at = add(np.zeros(int(round(chunk * sr)), np.float32))
                pauses.append(
                    {
                        "speaker": speaker,
                        "start": round(at / sr, 3),
                        "end": round((at + len(pieces[-1])) / sr, 3),
                    }
                )
                after_speech = False
                continue
            if after_speech:
                add(np.zeros(int(round(rng.uniform(*SENTENCE_GAP_S) * sr)), np.float32))
            audio = trim(synth(voice, chunk, _seed(spec["id"], t_idx, c_idx)), sr)
            at = add(level(audio, float(synth.voices[voice].get("level_dbfs", -20))))
            start = at if start < 0 else start
            end = at + len(audio)
            after_speech = True
        turns.append({"speaker": speaker, "start": round(start / sr, 3), "end": round(end / sr, 3),
                      "text": reference_text(turn["text"])})  # fmt: skip
        logger.info("%s turn %d: %s %.2f-%.2f s", spec["id"], t_idx, speaker, start / sr, end / sr)
    tail = np.zeros(int(0.8 * sr), np.float32)
    audio = np.concatenate([*pieces, tail])
    audio = audio + room_tone(len(audio), float(cfg["noise_floor_dbfs"]), rng)
    peak = float(np.abs(audio).max())
    if peak > 0.89:  # keep 1 dB of headroom for the MP3 encoder
        audio *= 0.89 / peak
    reference = {
        "interview": spec["id"],
        "audio": f"{spec['id']}.mp3",
        "duration": round(len(audio) / sr, 3),
        "sample_rate": sr,
        "speakers": {k: _speaker_info(v, synth.voices) for k, v in spec["speakers"].items()},
        "turns": turns,
        "pauses": pauses,
        "planted": [_planted(p) for p in spec["planted"]],
        "generator": provenance(),
    }
    return audio.astype(np.float32), reference


def _speaker_info(spk: dict[str, Any], voices: dict[str, dict[str, Any]]) -> dict[str, Any]:
    v = voices[spk["voice"]]
    desc = "hibari-tts heart" if v["engine"] == "hibari" else f"espeak-ng {v['voice']}"
    if v.get("sox"):
        desc += " + sox " + " ".join(map(str, v["sox"]))
    return {"role": spk["role"], "voice": spk["voice"], "synthesis": desc}


def _planted(p: dict[str, Any]) -> dict[str, Any]:
    out = {"value": str(p["value"]), "type": p["type"]}
    if "spoken" in p:
        out["spoken"] = p["spoken"]
    forms = [str(f) for f in p.get("forms", [])]
    out["forms"] = [out["value"], *[f for f in forms if f != out["value"]]]
    if p["type"] == "PHONE_NUMBER":
        out["digits"] = re.sub(r"\D", "", out["value"])
    return out


def _tool_version(cmd: list[str], pattern: str) -> str:
    try:
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SampleError(f"cannot run {cmd[0]} ({e})") from e
    m = re.search(pattern, out)
    return m.group(1) if m else "unknown"


def provenance() -> dict[str, str]:
    """Versions of everything that shapes the audio (a rebuild is bit-identical only when they match)."""
    return {
        "script": "audio_samples/make_samples.py",
        "hibari_tts": metadata.version("hibari-tts"),
        "espeak_ng": _tool_version(["espeak-ng", "--version"], r"text-to-speech:\s*(\S+)"),
        "sox": _tool_version(["sox", "--version"], r"v(\S+)"),
        "ffmpeg": _tool_version(["ffmpeg", "-version"], r"ffmpeg version (\S+)"),
    }


def encode_mp3(audio: np.ndarray, sr: int, bitrate: str, path: Path, workdir: Path) -> None:
    wav = workdir / "mix.wav"
    sf.write(wav, audio, sr, subtype="PCM_16")
    _run(["ffmpeg", "-y", "-hide_banner", "-loglevel", "error", "-i", str(wav), "-ac", "1", "-ar", str(sr),
          "-c:a", "libmp3lame", "-b:a", bitrate, "-map_metadata", "-1", "-fflags", "+bitexact",
          "-flags:a", "+bitexact", str(path)])  # fmt: skip


def check_spec(cfg: dict[str, Any]) -> None:
    """Fail early, naming the interview and value, when the script is inconsistent."""
    for spec in cfg["interviews"]:
        text = " ".join(reference_text(t["text"]) for t in spec["turns"])
        for p in spec["planted"]:
            if str(p["value"]) not in text:
                raise SampleError(
                    f"{DIALOGUE.name}: {spec['id']}: planted value of type {p['type']} not in text"
                )
        for spk in spec["speakers"].values():
            if spk["voice"] not in cfg["voices"]:
                raise SampleError(f"{DIALOGUE.name}: {spec['id']}: unknown voice {spk['voice']!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE, help="output folder")
    ap.add_argument("--dialogue", type=Path, default=DIALOGUE, help="dialogue YAML")
    ap.add_argument("--keep-wav", action="store_true", help="also write the uncompressed 16-bit WAV")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    for tool in ("sox", "espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            ap.error(f"{tool} not found on PATH")
    cfg = yaml.safe_load(args.dialogue.read_text(encoding="utf-8"))
    check_spec(cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    sr = int(cfg["sample_rate"])
    with tempfile.TemporaryDirectory() as tmp:
        synth = Synth(cfg["voices"], sr, Path(tmp))
        for spec in cfg["interviews"]:
            audio, ref = build_interview(spec, cfg, synth)
            mp3 = args.out / f"{spec['id']}.mp3"
            encode_mp3(audio, sr, str(cfg["mp3_bitrate"]), mp3, Path(tmp))
            if args.keep_wav:
                sf.write(args.out / f"{spec['id']}.wav", audio, sr, subtype="PCM_16")
            ref_path = args.out / f"{spec['id']}.reference.json"
            ref_path.write_text(json.dumps(ref, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            logger.info("wrote %s (%.1f s, %d bytes) and %s", mp3.name, ref["duration"], mp3.stat().st_size,
                        ref_path.name)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
