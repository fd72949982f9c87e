"""Apply replacements to a segment's text and its timed words.

A word that overlaps a replaced span takes the replacement text; when one replacement covers several
words the first word keeps its start time, the last its end time, and the words between are dropped.
Words that cannot be aligned to the text (hand-edited transcripts) have any replaced original value
substituted inside them, so no original survives in the words either.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pipeline.schema import Segment, Word


def _align(text: str, words: list[Word]) -> list[tuple[int, int] | None]:
    """Character range of each word's (stripped) text in ``text``, searching left to right."""
    out: list[tuple[int, int] | None] = []
    cursor = 0
    low = text.lower()
    for w in words:
        token = w.text.strip()
        if not token:
            out.append(None)
            continue
        pos = text.find(token, cursor)
        if pos < 0:
            pos = low.find(token.lower(), cursor)
        if pos < 0 or text[cursor:pos].strip() and pos - cursor > 40:
            out.append(None)
            continue
        out.append((pos, pos + len(token)))
        cursor = pos + len(token)
    return out


def _new_text(text: str, reps: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int, int]]]:
    pieces, cursor, shifts, delta = [], 0, [], 0
    for s, e, r in reps:
        pieces.append(text[cursor:s])
        pieces.append(r)
        cursor = e
        delta += len(r) - (e - s)
        shifts.append((e, delta, s))
    pieces.append(text[cursor:])
    return "".join(pieces), shifts


def _map(pos: int, shifts: list[tuple[int, int, int]]) -> int:
    delta = 0
    for end, d, _start in shifts:
        if end <= pos:
            delta = d
    return pos + delta


def rewrite_segment(seg: Segment, reps: list[tuple[int, int, str, str]]) -> Segment:
    """``reps``: non-overlapping (start, end, replacement, original) in the raw segment text."""
    if not reps:
        return replace(seg, words=[replace(w) for w in seg.words])
    reps = sorted(reps)
    simple = [(s, e, r) for s, e, r, _ in reps]
    new_text, shifts = _new_text(seg.text, simple)
    spans = _align(seg.text, seg.words)

    # groups of word indices touched by the same replacement(s)
    groups: list[list[int]] = []
    lo_hi: list[list[int]] = []
    for s, e, _r in simple:
        touched = [i for i, sp in enumerate(spans) if sp and sp[0] < e and s < sp[1]]
        if not touched:
            continue
        rng = [min(s, spans[touched[0]][0]), max(e, spans[touched[-1]][1])]
        if groups and touched[0] <= groups[-1][-1]:
            groups[-1] = sorted(set(groups[-1]) | set(touched))
            lo_hi[-1][1] = max(lo_hi[-1][1], rng[1])
        else:
            groups.append(touched)
            lo_hi.append(rng)
    first_of = {g[0]: k for k, g in enumerate(groups)}
    dropped = {i for g in groups for i in g[1:]}

    words: list[Word] = []
    for i, w in enumerate(seg.words):
        if i in dropped:
            continue
        if i in first_of:
            k = first_of[i]
            g, (a, b) = groups[k], lo_hi[k]
            lead = w.text[: len(w.text) - len(w.text.lstrip())]
            text = lead + new_text[_map(a, shifts) : _map(b, shifts)].strip()
            last = seg.words[g[-1]]
            prob = min(seg.words[j].probability for j in g)
            overlap = any(seg.words[j].overlap for j in g)
            words.append(replace(w, end=last.end, text=text, probability=prob, overlap=overlap))
        elif spans[i] is None:
            words.append(replace(w, text=_scrub(w.text, reps)))
        else:
            words.append(replace(w))
    return replace(seg, text=new_text, words=words)


def _scrub(text: str, reps: list[tuple[int, int, str, str]]) -> str:
    for _s, _e, r, original in sorted(reps, key=lambda x: -len(x[3])):
        if original.strip():
            text = re.sub(re.escape(original.strip()), r, text, flags=re.IGNORECASE)
            for part in original.split():
                if len(part) >= 3:
                    text = re.sub(rf"\b{re.escape(part)}\b", r, text, flags=re.IGNORECASE)
    return text
