"""Names that only the surrounding turns give away: detection across segment boundaries.

Presidio sees one segment at a time. Three things need more than one segment, or more than the
recognizers' own span:

- an answer to a name question ("What is your surname?" / "Thorsager.", "Hvad hedder du til
  efternavn?" / "Thorsager."): the short answer's name words are a person's name;
- a name cut by a segment or speaker boundary ("... hosted by Kyle" | "Gas."): the end of one
  segment and the start of the next are analysed together, and a detection across the cut is
  split over both segments;
- a misspelt or unknown name word right beside a detected one ("Metee Thorsager"): the person's
  span grows over it.

Logs carry counts only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from pipeline.deid.gazetteer import FUNCTION_WORDS, TITLES, WORD_RE, fold
from pipeline.deid.pseudonyms import Detection
from pipeline.deid.recognizers.cues import DA_FUNCTION
from pipeline.deid.spoken import normalise
from pipeline.schema import Transcript

NAME_QUESTION = re.compile(
    r"\b(?:what(?:'s|’s| is| was| are)\s+(?:your|his|her|their|the)\s+(?:\w+\s+){0,2}?"
    r"(?:name|names|surname|surnames)\b|(?:your|his|her|their)\s+(?:full |first |last |maiden |family )?"
    r"(?:name|surname)(?: is| was)?\s*\?|what do (?:they|people|you|we) call (?:you|him|her|them)|"
    r"(?:what )?(?:should|shall|can|do) (?:i|we) call (?:you|him|her)|"
    r"who (?:is|was|are) (?:your|his|her) \w+\s*\?|how do you spell|(?:could|can) you spell|"
    r"hvad\s+hedder\s+\w+|hvad\s+er\s+(?:dit|hans|hendes|jeres|deres)\s+(?:\w+)?navn|"
    r"(?:efter|for|mellem|pige|fulde\s)?navn(?:et)?\s*\?|hvem er (?:din|dit|dine)\s+\w+\s*\?|"
    r"hvordan staves|kan du stave|hvad kalder (?:de|folk|man|i) (?:dig|ham|hende))",
    re.IGNORECASE,
)
# Words of an answer that are not the name ("It's Thorsager", "Det er Thorsager", "Øh, Holm").
ANSWER_FILLERS = frozenset(
    """um uh er erm hmm mm well sure yes yeah okay ok oh it's its called name surname first last
    spelled spell like with double ja jo nej øh øhm æh hm nå altså hedder navn efternavn fornavn
    staves stavet med dobbelt det er mit min hans hendes bare kald""".split()
)
MAX_ANSWER_WORDS = 6
WINDOW = 60  # characters of each segment analysed together at a boundary


def _stop(word: str) -> bool:
    f = fold(word)
    return f in FUNCTION_WORDS or f in DA_FUNCTION or f in ANSWER_FILLERS or f in TITLES


def answers_to_name_questions(transcript: Transcript, english_words: frozenset[str]) -> list[Detection]:
    """The name words of a short answer that follows a name question."""
    out = []
    segs = transcript.segments
    for i, seg in enumerate(segs[:-1]):
        if not NAME_QUESTION.search(seg.text):
            continue
        k = i + 1
        while k < len(segs) and not segs[k].text.strip():
            k += 1
        if k >= len(segs):
            continue
        text = segs[k].text
        words = list(WORD_RE.finditer(text))
        if not words or len(words) > MAX_ANSWER_WORDS:
            continue
        run: list[re.Match] = []
        for m in [*words, None]:
            w = m.group(0) if m is not None else ""
            unknown = transcript.language == "en" and w.lower() not in english_words  # "it's gunnvor"
            if m is not None and not _stop(w) and (w[0].isupper() or len(words) <= 2 or unknown):
                run.append(m)
                continue
            if run:
                s, e = run[0].start(), run[-1].end()
                out.append(Detection(k, s, e, "PERSON", 0.7, "NameAnswer", text[s:e]))
                run = []
    return out


CUT_NAME = re.compile(r"\b(?!I\b)[^\W\d_a-zæøå][\w'’-]*\W*$")
CUT_CUE = re.compile(
    r"\b(?:name is|name's|named|called|call me|by|mr|mrs|ms|miss|dr|prof|hedder|hed|navn er|kaldet|"
    r"hr|fru|min (?:mand|kone|datter|søn)|my (?:husband|wife|son|daughter))\W*$",
    re.IGNORECASE,
)


def _number_cut(a: str, b: str, lang: str) -> bool:
    """Whether ``a`` ends and ``b`` starts with a number (in digits or words, any separator): a
    phone or ID number read out across two segments."""
    tail = normalise(a[-40:], lang[:2])
    head = [t for t in normalise(b[:40], lang[:2]) if t.text not in (",", "-", "…", ".")]
    tail = [t for t in tail if t.text not in (",", "-", "…", ".")]
    return bool(tail and head and tail[-1].is_digits and head[0].is_digits)


def names_across_boundaries(
    transcript: Transcript, detect: Callable[[str], list[Detection]]
) -> list[Detection]:
    """Detections in the joined end and start of two neighbouring segments that cross the cut."""
    out = []
    segs = transcript.segments
    for i in range(len(segs) - 1):
        a, b = segs[i].text, segs[i + 1].text
        if not a.strip() or not b.strip() or re.search(r"[.!?…]\W*$", a):
            continue  # a sentence ended: a name does not run on over the cut
        if not (CUT_NAME.search(a) or CUT_CUE.search(a) or _number_cut(a, b, transcript.language or "en")):
            continue  # only a capitalised last word, a name cue or a number can run on over the cut
        cut_a = _word_cut(a, len(a) - WINDOW)
        head_end = b.find(" ", WINDOW) if len(b) > WINDOW else len(b)
        head_end = len(b) if head_end < 0 else head_end
        tail, head = a[cut_a:].rstrip(), b[:head_end]
        window = f"{tail} {head}"
        junction = len(tail)
        for d in detect(window):
            if not (d.start < junction < d.end and d.end > junction + 1):
                continue
            a_start, b_end = cut_a + d.start, d.end - junction - 1
            if a_start < len(a.rstrip()):
                out.append(
                    replace(
                        d, segment=i, start=a_start, end=len(a.rstrip()), text=a[a_start : len(a.rstrip())]
                    )
                )
            if b_end > 0:
                out.append(replace(d, segment=i + 1, start=0, end=b_end, text=b[:b_end]))
    return out


def short_tails(transcript: Transcript, dets: list[Detection]) -> list[Detection]:
    """A name at the very end of a segment and a short next segment of capitalised words
    ("... hosted by Kyle" | "Gas."): the next words finish the name."""
    out = []
    segs = transcript.segments
    ends = {(d.segment, d.end) for d in dets if d.entity_type == "PERSON"}
    for i in range(len(segs) - 1):
        a, b = segs[i].text.rstrip(), segs[i + 1].text
        words = list(WORD_RE.finditer(b))
        if (i, len(a)) not in ends or not words or len(words) > 3:
            continue
        run = [m for m in words if m.group(0)[0].isupper() and not _stop(m.group(0))]
        if run and run[0] is words[0]:
            k = 0
            while k + 1 < len(run) and run[k + 1] is words[k + 1]:
                k += 1
            s, e = words[0].start(), run[k].end()
            out.append(Detection(i + 1, s, e, "PERSON", 0.6, "NameAcrossBoundary", b[s:e]))
    return out


def _word_cut(text: str, pos: int) -> int:
    if pos <= 0:
        return 0
    space = text.find(" ", pos)
    return space + 1 if space >= 0 else pos


NEXT_WORD = re.compile(r"\s+([^\W\d_][\w'’-]*)")
PREV_WORD = re.compile(r"([^\W\d_][\w'’-]*)\s+$")


def grow_names(
    transcript: Transcript, dets: list[Detection], english_words: frozenset[str]
) -> list[Detection]:
    """A person's span takes in a capitalised unknown word right before or after it."""

    def nameish(word: str) -> bool:
        return (
            word[:1].isupper()
            and len(word) > 1
            and not _stop(word)
            and word.lower() not in english_words
            and fold(word) not in english_words
        )

    by_seg: dict[int, list[Detection]] = {}
    for d in dets:
        by_seg.setdefault(d.segment, []).append(d)
    out = []
    for seg_idx, mine in by_seg.items():
        text = transcript.segments[seg_idx].text if seg_idx >= 0 else ""
        for d in mine:
            if d.entity_type == "PERSON" and seg_idx >= 0:
                start, end = d.start, d.end
                before = PREV_WORD.search(text[:start])
                if before and nameish(before.group(1)) and not text[: before.start()].rstrip().endswith(","):
                    start = before.start()
                after = NEXT_WORD.match(text, end)
                if after and nameish(after.group(1)):
                    end = after.end()
                free = not any(o is not d and o.start < end and start < o.end for o in mine)
                if (start, end) != (d.start, d.end) and free:
                    d = replace(d, start=start, end=end, text=text[start:end])
            out.append(d)
    return out


def merge_into(dets: list[Detection], extra: list[Detection], transcript: Transcript) -> list[Detection]:
    """Add ``extra``; where one overlaps a detection already there, that detection grows to the union."""
    out = list(dets)
    for x in extra:
        hit = [k for k, d in enumerate(out) if d.segment == x.segment and d.start < x.end and x.start < d.end]
        if not hit:
            out.append(x)
            continue
        group = [out[k] for k in hit]
        start, end = min([x.start] + [g.start for g in group]), max([x.end] + [g.end for g in group])
        text = transcript.segments[x.segment].text[start:end]
        best = max([*group, x], key=lambda d: d.score)  # the surest detection names the type
        keep = replace(best, start=start, end=end, text=text)
        out = [d for k, d in enumerate(out) if k not in hit] + [keep]
    return sorted(out, key=lambda d: (d.segment, d.start))


def context_detections(
    transcript: Transcript,
    dets: list[Detection],
    detect: Callable[[str], list[Detection]],
    english_words: frozenset[str],
) -> list[Detection]:
    """``dets`` with the answers, the names across boundaries and the grown names added."""
    extra = answers_to_name_questions(transcript, english_words) + names_across_boundaries(transcript, detect)
    dets = merge_into(dets, extra, transcript)
    dets = merge_into(dets, short_tails(transcript, dets), transcript)
    return grow_names(transcript, dets, english_words)
