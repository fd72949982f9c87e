"""A reviewer's corrections to the raw transcript: checked against it, then applied with word times.

A correction group replaces a run of consecutive segments by new ones (see ``fileformat``). Word
times survive: the words of the new text are aligned with the old words of the group (difflib on
the word sequence); a word that is unchanged keeps its times and probability, and a run of new or
changed words is spread evenly over the time between the unchanged words around it. A new
segment starts at its first word and ends at its last. Words the reviewer typed get probability 1.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from pipeline.review.common import ReviewError
from pipeline.schema import Segment, Transcript, Word

MARKERS = ("[inaudible]", "[overlap]")


def check_corrections(where: str, groups: list[Any], raw: Transcript) -> dict[int, int]:
    """``ReviewError`` unless every group replaces a run of consecutive segments of ``raw``, groups do
    not overlap, new ids are unique (kept from the run or above every original id) and speakers are
    known. Returns {new segment id: index of the group}."""
    order = {s.id: i for i, s in enumerate(raw.segments)}
    speakers = {sp.id for sp in raw.speakers}
    top = max(order, default=-1)
    replaced: set[int] = set()
    new_ids: dict[int, int] = {}
    for n, g in enumerate(groups):
        at = f"{where}: correction {n + 1}"
        idx = [order.get(i) for i in g.replaces]
        if any(i is None for i in idx):
            raise ReviewError(f"{at}: replaces an unknown segment id")
        if idx != list(range(idx[0], idx[0] + len(idx))):
            raise ReviewError(f"{at}: 'replaces' must list consecutive segments in order")
        if replaced & set(g.replaces):
            raise ReviewError(f"{at}: a segment is replaced by two corrections")
        replaced |= set(g.replaces)
        for s in g.segments:
            if s.id in new_ids or (s.id <= top and s.id not in g.replaces):
                raise ReviewError(
                    f"{at}: segment id {s.id} is taken (keep an id of the replaced segments or use one above {top})"
                )
            if s.speaker is not None and s.speaker not in speakers:
                raise ReviewError(f"{at}: unknown speaker id (known: {', '.join(sorted(speakers))})")
            if not s.text.strip():
                raise ReviewError(f"{at}: segment {s.id} has no text (leave it out to delete the segment)")
            new_ids[s.id] = n
    return new_ids


def _tokens(text: str) -> list[str]:
    return text.split()


def _spread(start: float, end: float, n: int) -> list[tuple[float, float]]:
    if n <= 0:
        return []
    step = max(end - start, 0.0) / n
    return [(round(start + k * step, 3), round(start + (k + 1) * step, 3)) for k in range(n)]


def align_words(old: list[Word], tokens: list[str], t0: float, t1: float) -> list[Word]:
    """Words for ``tokens``: unchanged ones keep their times, new runs spread between their neighbours."""
    if not old:
        return [Word(a, b, " " + tok, 1.0) for tok, (a, b) in zip(tokens, _spread(t0, t1, len(tokens)))]
    old_tok = [w.text.strip() for w in old]
    out: list[Word | None] = [None] * len(tokens)
    sm = difflib.SequenceMatcher(a=old_tok, b=tokens, autojunk=False)
    for tag, i1, _i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            for k in range(j2 - j1):
                w = old[i1 + k]
                out[j1 + k] = dataclasses.replace(w, text=" " + tokens[j1 + k])
    # Runs of new words: between the end of the previous kept word and the start of the next one.
    j = 0
    while j < len(tokens):
        if out[j] is not None:
            j += 1
            continue
        k = j
        while k < len(tokens) and out[k] is None:
            k += 1
        lo = out[j - 1].end if j > 0 else t0
        hi = out[k].start if k < len(tokens) else t1
        if hi < lo:
            hi = lo
        for m, (a, b) in zip(range(j, k), _spread(lo, hi, k - j)):
            out[m] = Word(a, b, " " + tokens[m], 1.0)
        j = k
    return [w for w in out if w is not None]


def _apply_group(segs: list[Segment], group: Any) -> list[Segment]:
    old_words = [w for s in segs for w in s.words]
    t0, t1 = segs[0].start, segs[-1].end
    texts = [_tokens(ns.text) for ns in group.segments]
    words = align_words(old_words, [t for ts in texts for t in ts], t0, t1)
    out: list[Segment] = []
    pos = 0
    for ns, toks in zip(group.segments, texts):
        mine = words[pos : pos + len(toks)]
        pos += len(toks)
        speaker = ns.speaker if ns.speaker is not None else segs[0].speaker
        mine = [dataclasses.replace(w, speaker=speaker) for w in mine]
        start = mine[0].start if mine else t0
        end = mine[-1].end if mine else t1
        out.append(Segment(ns.id, start, end, " ".join(toks), speaker, mine, ns.overlap))
    return out


def apply_corrections(raw: Transcript, groups: list[Any]) -> Transcript:
    """A new transcript with every group applied (``raw`` itself is not changed)."""
    if not groups:
        return raw
    by_first = {g.replaces[0]: g for g in groups}
    segs: list[Segment] = []
    skip: set[int] = set()
    index = {s.id: i for i, s in enumerate(raw.segments)}
    for s in raw.segments:
        if s.id in skip:
            continue
        g = by_first.get(s.id)
        if g is None:
            segs.append(s)
            continue
        run = [raw.segments[index[i]] for i in g.replaces]
        skip |= set(g.replaces)
        segs.extend(_apply_group(run, g))
    return dataclasses.replace(raw, segments=segs)


def correction_counts(raw: Transcript, groups: list[Any]) -> dict[str, int]:
    """What the corrections do, as counts (for the audit trail: no text)."""
    by_id = {s.id: s for s in raw.segments}
    c = {"edited": 0, "speaker_changed": 0, "split": 0, "merged": 0, "deleted": 0, "words_changed": 0}
    for g in groups:
        old = [by_id[i] for i in g.replaces]
        if not g.segments:
            c["deleted"] += len(old)
            continue
        if len(g.segments) > len(old):
            c["split"] += 1
        elif len(g.segments) < len(old):
            c["merged"] += 1
        old_tok = [t for s in old for t in _tokens(s.text)]
        new_tok = [t for s in g.segments for t in _tokens(s.text)]
        sm = difflib.SequenceMatcher(a=old_tok, b=new_tok, autojunk=False)
        changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal")
        c["words_changed"] += changed
        c["edited"] += changed > 0
        for ns in g.segments:  # against the segment it keeps the id of, or the first one it replaces
            before = by_id[ns.id].speaker if ns.id in g.replaces else old[0].speaker
            c["speaker_changed"] += ns.speaker is not None and ns.speaker != before
    return c
