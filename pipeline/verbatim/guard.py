"""Nothing invented: decoded words are checked against Silero VAD speech and against the prompt.

Three checks, each counted (never the text) in :class:`GuardCounts`:

* ``outside_speech``: a word whose middle lies more than ``outside_tolerance`` seconds from every
  speech region that Silero VAD finds (the speakers stage's VAD, same settings by default);
* ``prompt_echo``: a run of at least ``prompt_echo_words`` words copied from the decoding prompt;
* ``repeats``: back-to-back copies of a phrase beyond ``max_repeats`` (single words: beyond
  ``max_repeats + 2``, so "no no no" stays), Whisper's looping failure.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.config import GuardConfig
from pipeline.schema import Segment, Word

Span = tuple[float, float]
MAX_PHRASE = 12  # longest phrase (words) checked for back-to-back repeats
_TOKEN = re.compile(r"[^\w']+")


@dataclass
class GuardCounts:
    """What the guard did to one transcript: counts only, for the run summary and the log."""

    outside_speech: int = 0
    prompt_echo: int = 0
    repeats: int = 0
    regions_redecoded: int = 0
    words_recovered: int = 0
    redecoded_unsure: int = 0  # words decoded again but too unsure to keep (region marked inaudible)
    inaudible: int = 0

    @property
    def removed(self) -> int:
        return self.outside_speech + self.prompt_echo + self.repeats

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "removed": self.removed}


def speech_regions(path: Path, cfg: GuardConfig) -> list[Span]:
    """Silero VAD speech regions (s) of a 16 kHz file, read one block at a time."""
    from pipeline.speakers import embedding, models
    from pipeline.speakers.base import block_samples, open_samples

    with open_samples(path) as src:
        block = block_samples(None, embedding.BLOCK_MULTIPLE)
        probs = models.speech_probabilities_blocks((x for _, x in src.blocks(block)), src.frames)
        return embedding.speech_regions(probs, cfg, src.duration)


def norm(text: str) -> str:
    return _TOKEN.sub("", text.lower())


def _inside(t: float, regions: list[Span], tolerance: float) -> bool:
    i = bisect.bisect_right([s for s, _ in regions], t + tolerance) - 1
    return i >= 0 and t <= regions[i][1] + tolerance


def _echo_mask(tokens: list[str], prompt: list[str], min_words: int) -> list[bool]:
    """True for tokens inside a run of >= ``min_words`` tokens that occurs contiguously in ``prompt``."""
    mask = [False] * len(tokens)
    if not prompt:
        return mask
    i = 0
    while i < len(tokens):
        best = 0
        for p in range(len(prompt)):
            k = 0
            while i + k < len(tokens) and p + k < len(prompt) and tokens[i + k] == prompt[p + k] != "":
                k += 1
            best = max(best, k)
        if best >= min_words:
            mask[i : i + best] = [True] * best
            i += best
        else:
            i += 1
    return mask


def _repeat_mask(tokens: list[str], max_repeats: int) -> list[bool]:
    """True for back-to-back copies of a phrase beyond the allowed number (shortest phrase first,
    so "a b a b a b" is three copies of "a b", not one of "a b a b")."""
    mask = [False] * len(tokens)
    i = 0
    while i < len(tokens):
        jump = 1
        for n in range(1, min(MAX_PHRASE, (len(tokens) - i) // 2) + 1):
            phrase = tokens[i : i + n]
            if "" in phrase:
                continue
            copies = 1
            while tokens[i + copies * n : i + (copies + 1) * n] == phrase:
                copies += 1
            allowed = max_repeats if n > 1 else max_repeats + 2
            if copies > allowed:
                a, b = i + allowed * n, i + copies * n
                mask[a:b] = [True] * (b - a)
                jump = copies * n
                break
        i += jump
    return mask


def guard_segments(
    segments: list[Segment],
    regions: list[Span] | None,
    prompt: str | None,
    cfg: GuardConfig,
    counts: GuardCounts,
) -> list[Segment]:
    """The segments without invented words (``regions`` None: no VAD check); empty segments dropped."""
    words = [(si, w) for si, seg in enumerate(segments) for w in seg.words]
    drop = [False] * len(words)
    if regions is not None:
        for k, (_, w) in enumerate(words):
            if not _inside((w.start + w.end) / 2, regions, cfg.outside_tolerance):
                drop[k] = True
                counts.outside_speech += 1
    kept = [k for k in range(len(words)) if not drop[k]]
    tokens = [norm(words[k][1].text) for k in kept]
    if prompt:
        echo = _echo_mask(tokens, [norm(t) for t in prompt.split()], cfg.prompt_echo_words)
        for k, e in zip(kept, echo, strict=True):
            if e:
                drop[k] = True
                counts.prompt_echo += 1
        kept = [k for k in kept if not drop[k]]
        tokens = [norm(words[k][1].text) for k in kept]
    for k, r in zip(kept, _repeat_mask(tokens, cfg.max_repeats), strict=True):
        if r:
            drop[k] = True
            counts.repeats += 1
    by_segment: dict[int, list[Word]] = {}
    for k, (si, w) in enumerate(words):
        if not drop[k]:
            by_segment.setdefault(si, []).append(w)
    out: list[Segment] = []
    for si, seg in enumerate(segments):
        if not seg.words:
            out.append(seg)  # text without word timings: nothing to check it against
            continue
        kept_words = by_segment.get(si, [])
        if not kept_words:
            continue
        if len(kept_words) == len(seg.words):
            out.append(seg)
            continue
        out.append(
            Segment(
                id=seg.id,
                start=kept_words[0].start,
                end=kept_words[-1].end,
                text=" ".join(w.text for w in kept_words),
                words=kept_words,
            )
        )
    return out
