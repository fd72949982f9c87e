"""A small held-out-style attack on ``deidentify``: planted values in English and Danish interviews.

Each case is one interview (segments alternate interviewer / participant, JSON with its language)
holding planted values of one kind: spoken contact data, names known only from context, and
quasi-identifiers (issue 13 items 1, 2, 12). All cases run through ``python -m pipeline deidentify``
in one output folder with the defaults; then every file under ``shareable/``, every path there, the
log and the console are scanned for each planted value and each of its words: in the shareable files
of the case's own folder (docx unzipped, tags dropped) words of three or more letters; in the
project files (all interviews: "tre" is an ordinary Danish word in another one), paths, log and
console (which hold counts, ids and timings) words of four or more; numbers of four or more digits
everywhere (shorter ones count within the whole value). A case leaks when
anything is found.

    python bench/attack_deid.py [--keep DIR]

Prints a table of leaking cases (case ids and counts, no values) and writes
bench/results/attack_deid.json. The strings here are not those of tests/test_deid_attack.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "attack_deid.json"

INTERVIEWER, PARTICIPANT = "Interviewer", "Participant"
# (case id, kind, language, [segment texts], [planted values])
CASES = [
    # 1. spoken contact data
    (
        "en-email-1",
        "contact",
        "en",
        ["Best to reach me at rikke dot bang at proton dot me."],
        ["rikke", "bang", "proton"],
    ),
    (
        "en-email-2",
        "contact",
        "en",
        ["Send it over to me at t dot vinther seventy at yahoo dot co dot uk."],
        ["vinther", "yahoo"],
    ),
    (
        "en-phone-1",
        "contact",
        "en",
        ["Sure, it's forty one, ninety two, thirteen, sixty."],
        ["forty one", "ninety two", "thirteen", "sixty"],
    ),
    (
        "en-phone-2",
        "contact",
        "en",
        ["Call the mobile, that's plus forty four, seven seven double oh, nine one two, three four five."],
        ["forty four", "seven seven", "nine one two", "three four five"],
    ),
    (
        "en-phone-3",
        "contact",
        "en",
        ["The landline is eight six one two, triple three, four."],
        ["eight six one two", "triple three"],
    ),
    (
        "en-id-1",
        "contact",
        "en",
        ["My patient number is four four seven, two one nine, eight eight three."],
        ["four four seven", "two one nine", "eight eight three"],
    ),
    (
        "en-cpr-1",
        "contact",
        "en",
        ["The CPR is two three one one seven nine, dash, four four one two."],
        ["two three one one seven nine", "four four one two"],
    ),
    (
        "en-plate-1",
        "contact",
        "en",
        ["They saw the van, registration BK 47 118, outside the school."],
        ["BK", "BK 47 118", "47 118"],
    ),
    (
        "en-url-1",
        "contact",
        "en",
        ["I post recipes on mormorsopskrifter dot dk every week."],
        ["mormorsopskrifter"],
    ),
    (
        "da-email-1",
        "contact",
        "da",
        ["Skriv til kirsten punktum dahl snabel-a mail punktum dk."],
        ["kirsten", "dahl"],
    ),
    (
        "da-email-2",
        "contact",
        "da",
        ["Min mail er bo underscore friis snabel a gmail punktum com."],
        ["friis", "gmail"],
    ),
    (
        "da-phone-1",
        "contact",
        "da",
        ["Mit mobilnummer er treogtyve, femoghalvfjerds, nul otte, enoghalvfems."],
        ["treogtyve", "femoghalvfjerds", "enoghalvfems"],
    ),
    (
        "da-phone-2",
        "contact",
        "da",
        ["Ring på fire to syv syv otte et et ni."],
        ["fire to syv syv otte et et ni"],
    ),
    (
        "da-cpr-1",
        "contact",
        "da",
        ["Cpr-nummeret er nul ni et et syvoghalvfjerds, tre to et otte."],
        ["syvoghalvfjerds", "tre to et otte"],
    ),
    ("da-plate-1", "contact", "da", ["Bilen har nummerplade DR 39 502."], ["DR", "DR 39 502", "39 502"]),
    (
        "da-url-1",
        "contact",
        "da",
        ["Du kan se det på www punktum tømrerfirmalund punktum dk."],
        ["tømrerfirmalund"],
    ),
    # 2. names from context
    (
        "en-answer-1",
        "names",
        "en",
        ["Can I have your last name, please?", "Oldenburg-Riis."],
        ["Oldenburg", "Riis"],
    ),
    ("en-answer-2", "names", "en", ["And what was your maiden name?", "It was Skovgaard."], ["Skovgaard"]),
    ("en-answer-3", "names", "en", ["What do people call you?", "Mostly Bitten."], ["Bitten"]),
    ("en-spelled-1", "names", "en", ["That's W-I-E-S-E-L-B-E-R-G."], ["W-I-E-S-E-L-B-E-R-G"]),
    ("en-spelled-2", "names", "en", ["It's spelled Q, U, A, D, E."], ["Q, U, A, D, E"]),
    (
        "en-boundary-1",
        "names",
        "en",
        ["My supervisor was Ingolf", "Brask, a strict man."],
        ["Ingolf", "Brask"],
    ),
    ("en-boundary-2", "names", "en", ["The nurse was called", "Svanhild Eriksen."], ["Svanhild", "Eriksen"]),
    ("en-script-1", "names", "en", ["My neighbour Ахмед Сулейманов helps us."], ["Ахмед", "Сулейманов"]),
    ("en-misspelt-1", "names", "en", ["Then Joahnnes Kirkegaard phoned me."], ["Joahnnes", "Kirkegaard"]),
    ("da-answer-1", "names", "da", ["Hvad hedder din mand?", "Han hedder Torkild."], ["Torkild"]),
    ("da-answer-2", "names", "da", ["Og hvad er dit efternavn?", "Lindequist."], ["Lindequist"]),
    ("da-spelled-1", "names", "da", ["Det er med B-Ø-G-E-L-U-N-D."], ["B-Ø-G-E-L-U-N-D"]),
    (
        "da-boundary-1",
        "names",
        "da",
        ["Min chef hedder Hjørdis", "Mørch og hun er sød."],
        ["Hjørdis", "Mørch"],
    ),
    ("da-script-1", "names", "da", ["Min svigerdatter 美玲 kommer fra Taiwan."], ["美玲"]),
    ("da-misspelt-1", "names", "da", ["Jeg talte med Sørenn Aagaard i går."], ["Sørenn", "Aagaard"]),
    # 12. quasi-identifiers
    ("en-island-1", "quasi", "en", ["We moved to Mandø when I retired."], ["Mandø"]),
    ("en-village-1", "quasi", "en", ["I was born in a village called Tversted."], ["Tversted"]),
    (
        "en-postcode-1",
        "quasi",
        "en",
        ["The address ends with 7900 Nykøbing Mors."],
        ["7900", "Nykøbing", "Mors"],
    ),
    (
        "en-employer-1",
        "quasi",
        "en",
        ["I've worked for Thisted Bryghus for ten years."],
        ["Thisted", "Bryghus"],
    ),
    ("en-street-1", "quasi", "en", ["Our house is at forty two Cedar Close."], ["forty two", "Cedar"]),
    ("da-island-1", "quasi", "da", ["Vi flyttede til Femø for tre år siden."], ["Femø"]),
    ("da-postcode-1", "quasi", "da", ["Adressen er 4913 Horslunde."], ["4913", "Horslunde"]),
    ("da-employer-1", "quasi", "da", ["Jeg arbejder hos Lemvig Bådeværft."], ["Lemvig", "Bådeværft"]),
    ("da-street-1", "quasi", "da", ["Vi bor på Kirkevej otte, lige ved kirken."], ["Kirkevej"]),
    ("da-diagnosis-1", "quasi", "da", ["Jeg har ALS og bor i Ulfborg, så alle ved det."], ["Ulfborg"]),
    # batch 2: written after the fixes prompted by the cases above, run once unchanged
    (
        "en-email-3",
        "contact",
        "en",
        ["My email is b dot kragh hyphen nielsen at live dot dk."],
        ["kragh", "nielsen"],
    ),
    (
        "en-phone-4",
        "contact",
        "en",
        ["You can reach me on five one, four four, two nine, eight zero."],
        ["five one", "four four", "two nine", "eight zero"],
    ),
    (
        "en-nhs-1",
        "contact",
        "en",
        ["Her NHS number is four eight five, seven seven seven, three three nine one."],
        ["four eight five", "seven seven seven", "three three nine one"],
    ),
    ("en-answer-4", "names", "en", ["Who is your GP?", "Doctor Rasmussen-Lykke."], ["Rasmussen", "Lykke"]),
    ("en-appositive-1", "names", "en", ["My son, Eskild, was there too."], ["Eskild"]),
    ("en-village-2", "quasi", "en", ["I grew up in Hou, a tiny place near the sea."], ["Hou"]),
    ("en-employer-2", "quasi", "en", ["I teach at Vestervig Friskole."], ["Vestervig", "Friskole"]),
    (
        "da-phone-3",
        "contact",
        "da",
        ["Du kan fange mig på halvtreds, femogtres, tolv, nul syv."],
        ["halvtreds", "femogtres", "tolv", "nul syv"],
    ),
    (
        "da-relative-1",
        "names",
        "da",
        ["Min datter Sigrid-Marie går i skole i Brovst."],
        ["Sigrid", "Marie", "Brovst"],
    ),
    ("da-spelled-2", "names", "da", ["Hvordan staves det?", "S-K-Å-N-S-T-R-U-P."], ["S-K-Å-N-S-T-R-U-P"]),
    (
        "da-employer-2",
        "quasi",
        "da",
        ["Jeg er sygeplejerske på Regionshospitalet Lemvig."],
        ["Regionshospitalet", "Lemvig"],
    ),
    (
        "da-address-1",
        "quasi",
        "da",
        ["Vi bor på Algade nitten, 9700 Brønderslev."],
        ["Algade", "nitten", "9700", "Brønderslev"],
    ),
    (
        "da-licence-1",
        "contact",
        "da",
        ["Mit kørekortnummer er to fire otte, et seks syv, tre ni."],
        ["to fire otte", "et seks syv", "tre ni"],
    ),
]


def transcript_json(iid: str, lang: str, texts: list[str]) -> str:
    segments = [
        {
            "id": k,
            "start": float(k),
            "end": k + 1.0,
            "speaker": "S2" if k % 2 else "S1",
            "overlap": False,
            "text": t,
            "words": [],
        }
        for k, t in enumerate(texts)
    ]
    return json.dumps(
        {
            "schema_version": "1.0",
            "interview_id": iid,
            "language": lang,
            "segments": segments,
            "speakers": [
                {"id": "S1", "label": INTERVIEWER, "role": "interviewer"},
                {"id": "S2", "label": PARTICIPANT, "role": "participant"},
            ],
            "duration": float(len(texts)),
            "provenance": {},
        },
        ensure_ascii=False,
    )


def found_in(planted: list[str], haystack: str, min_len: int = 3) -> int:
    """How many planted values, or their words of at least ``min_len`` letters or four digits, are in
    ``haystack`` (shorter numbers are everywhere: ids, times, counts; they count within the value)."""
    n = 0
    for value in planted:
        words = [value] * (len(value) >= min_len) + [
            w
            for w in re.findall(r"[^\W_]+", value)
            if (w.isdigit() and len(w) >= 4) or (not w.isdigit() and len(w) >= min_len)
        ]
        n += sum(
            bool(re.search(rf"(?<![^\W_]){re.escape(w)}(?![^\W_])", haystack, re.IGNORECASE))
            for w in dict.fromkeys(words)
        )
    return n


def read_any(path: Path) -> str:
    """A file's text; for a zip container (.docx, .qdpx) the text of every member."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            xml = "\n".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())
            return re.sub(r"<[^>]+>", " ", xml)
    return path.read_text(encoding="utf-8", errors="replace")


def run(work: Path) -> dict:
    inputs = work / "in"
    inputs.mkdir(parents=True)
    files = []
    for k, (_, _, lang, texts, _) in enumerate(CASES):
        path = inputs / f"case-{k:02d}.json"
        path.write_text(transcript_json(f"case-{k:02d}", lang, texts), encoding="utf-8")
        files.append(str(path))
    out = work / "out"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "deidentify", *files, "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    seconds = time.perf_counter() - t0
    common = (
        proc.stdout + proc.stderr + "".join(p.read_text(encoding="utf-8") for p in (out / "logs").glob("*"))
    )
    common += "\n".join(str(p.relative_to(out)) for p in (out / "shareable").rglob("*"))
    rows = []
    for k, (case, kind, lang, _, planted) in enumerate(CASES):
        folder = out / "shareable" / f"case-{k:02d}"
        own = "\n".join(
            p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
        )
        project = "\n".join(read_any(p) for p in (out / "shareable").iterdir() if p.is_file())
        rows.append(
            {
                "case": case,
                "kind": kind,
                "language": lang,
                "planted": len(planted),
                "found": found_in(planted, own) + found_in(planted, project + common, min_len=4),
                "output": folder.is_dir(),
            }
        )
    return {"exit_status": proc.returncode, "seconds": round(seconds, 1), "cases": rows}


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument(
        "--keep", type=Path, default=None, help="work in DIR and keep it (default: a temporary folder)"
    )
    args = ap.parse_args()
    if args.keep:
        result = run(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="attack-deid-") as tmp:
            result = run(Path(tmp))
    rows = result["cases"]
    leaking = [r for r in rows if r["found"] or not r["output"]]
    result["summary"] = {
        "cases": len(rows),
        "leaking_cases": len(leaking),
        "planted_values": sum(r["planted"] for r in rows),
        "found_items": sum(r["found"] for r in rows),
        "by_kind": {k: sum(1 for r in leaking if r["kind"] == k) for k in ("contact", "names", "quasi")},
        "by_language": {lg: sum(1 for r in leaking if r["language"] == lg) for lg in ("en", "da")},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(
        f"cases: {len(rows)}, leaking: {len(leaking)}, items found: {result['summary']['found_items']}, "
        f"exit status {result['exit_status']}, {result['seconds']} s"
    )
    for r in leaking:
        print(f"  {r['case']:<16} {r['kind']:<8} found {r['found']}")
    return 0 if not leaking and result["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
