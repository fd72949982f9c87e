"""PII detection benchmark: this pipeline vs Presidio's defaults on presidio-research's synth_dataset_v2.

Protocol (issue 3): each single-line ``full_text`` (records whose text has no line break; 1,245 of
1,500) is fed as a ``Participant: ...`` text transcript. A gold span counts as found when the
replacements cover at least half of its characters (any replacement, whatever its type). A
replacement is right when it overlaps any gold span. Per entity type, recall is over that type's gold
spans; precision is over predictions whose type maps to it (see ``TYPE_MAP``), right when they
overlap a gold span of that type; F2 = 5PR / (4P + R).

Baseline: Presidio ``AnalyzerEngine`` with en_core_web_sm and its default recognizers, conflicts
resolved by the default ``AnonymizerEngine`` (operator "keep" so offsets stay in the original text).

    python bench/bench_pii.py [--all-records] [--limit N]

Prints a markdown table and writes bench/results/pii.json. Needs ../shared/eval/pii/.
"""

from __future__ import annotations

import os

# Presidio's default e-mail recognizer calls tldextract's module-level extractor, which would fetch
# the public suffix list over the network on first use. Must be set before tldextract is imported.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "eval" / "pii" / "synth_dataset_v2.json"
RESULTS = ROOT / "bench" / "results" / "pii.json"

DIRECT = ("PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS", "US_SSN", "CREDIT_CARD", "IBAN_CODE")
# Our (and Presidio's) entity types -> the dataset's types. Unlisted types count for overall
# precision only (e.g. ID_NUMBER: a long number that no specific recognizer claimed).
TYPE_MAP = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "LOCATION": "GPE",
    "ORGANIZATION": "ORGANIZATION",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "DATE_TIME": "DATE_TIME",
    "AGE": "AGE",
    "NRP": "NRP",
    "IP_ADDRESS": "IP_ADDRESS",
    "URL": "DOMAIN_NAME",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
}

Pred = tuple[int, int, str]


def load_records(all_records: bool, limit: int | None) -> list[dict]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    if all_records:
        # keep offsets: each line break becomes one space
        recs = [dict(r, full_text=r["full_text"].replace("\n", " ")) for r in data]
    else:
        recs = [r for r in data if "\n" not in r["full_text"]]
    return recs[:limit] if limit else recs


def run_ours(records: list[dict]) -> tuple[list[list[Pred]], float]:
    from pipeline.deid.config import DeidentifyConfig
    from pipeline.deid.engine import Deidentifier
    from pipeline.deid.key import PseudonymKey
    from pipeline.stages.deidentify import parse_text_transcript

    engine = Deidentifier(DeidentifyConfig())
    key = PseudonymKey()
    t0 = time.perf_counter()
    out = []
    for i, r in enumerate(records):
        text = r["full_text"]
        transcript = parse_text_transcript(f"Participant: {text}", f"rec-{i}")
        shift = text.find(transcript.segments[0].text)
        _, reds = engine.deidentify(transcript, key)
        out.append([(x.start + shift, x.end + shift, x.entity_type) for x in reds])
    return out, time.perf_counter() - t0


def run_presidio_defaults(records: list[dict]) -> tuple[list[list[Pred]], float]:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    from pipeline.deid.engine import resolve_spacy_model

    model = resolve_spacy_model("en_core_web_sm")
    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
    )
    analyzer, anonymizer = AnalyzerEngine(nlp_engine=nlp.create_engine()), AnonymizerEngine()
    keep = {"DEFAULT": OperatorConfig("keep")}
    t0 = time.perf_counter()
    out = []
    for r in records:
        text = r["full_text"]
        res = analyzer.analyze(text=text, language="en")
        items = anonymizer.anonymize(text=text, analyzer_results=res, operators=keep).items
        out.append([(it.start, it.end, it.entity_type) for it in items])
    return out, time.perf_counter() - t0


def score(records: list[dict], preds: list[list[Pred]]) -> dict:
    found, total = Counter(), Counter()
    p_right, p_total = Counter(), Counter()
    right = n_pred = 0
    for rec, ps in zip(records, preds):
        spans = rec["spans"]
        for s in spans:
            a, b = s["start_position"], s["end_position"]
            covered = set()
            for ps_, pe, _ in ps:
                covered.update(range(max(a, ps_), min(b, pe)))
            total[s["entity_type"]] += 1
            if 2 * len(covered) >= b - a:
                found[s["entity_type"]] += 1
        for ps_, pe, typ in ps:
            n_pred += 1
            right += any(ps_ < s["end_position"] and s["start_position"] < pe for s in spans)
            gold_type = TYPE_MAP.get(typ)
            if gold_type:
                p_total[gold_type] += 1
                p_right[gold_type] += any(
                    s["entity_type"] == gold_type and ps_ < s["end_position"] and s["start_position"] < pe
                    for s in spans
                )
    per_type = {}
    for t in sorted(total, key=lambda t: -total[t]):
        r = found[t] / total[t]
        p = p_right[t] / p_total[t] if p_total[t] else None
        f2 = (5 * p * r / (4 * p + r)) if p and (p + r) else None
        per_type[t] = {"gold": total[t], "recall": r, "precision": p, "predicted": p_total[t], "f2": f2}
    return {
        "per_type": per_type,
        "recall_person": found["PERSON"] / max(1, total["PERSON"]),
        "recall_direct": sum(found[t] for t in DIRECT) / max(1, sum(total[t] for t in DIRECT)),
        "precision": right / max(1, n_pred),
        "predictions": n_pred,
    }


def _f(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def markdown(ours: dict, base: dict, n: int) -> str:
    lines = [
        f"records: {n}",
        "",
        "| | this pipeline | Presidio defaults (en_core_web_sm) | target |",
        "|---|---|---|---|",
        f"| recall PERSON | {_f(ours['recall_person'])} | {_f(base['recall_person'])} | ≥ 0.95 |",
        f"| recall direct identifiers | {_f(ours['recall_direct'])} | {_f(base['recall_direct'])} | ≥ 0.93 |",
        f"| precision (overlaps any gold span) | {_f(ours['precision'])} | {_f(base['precision'])} | ≥ 0.80 |",
        f"| replacements | {ours['predictions']} | {base['predictions']} | |",
        "",
        "| entity type | gold | recall ours | precision ours | F2 ours | recall Presidio | precision Presidio | F2 Presidio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, o in ours["per_type"].items():
        b = base["per_type"].get(t, {})
        lines.append(
            f"| {t} | {o['gold']} | {_f(o['recall'])} | {_f(o['precision'])} | {_f(o['f2'])} | "
            f"{_f(b.get('recall'))} | {_f(b.get('precision'))} | {_f(b.get('f2'))} |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument(
        "--all-records", action="store_true", help="also the 255 multi-line records (line breaks -> spaces)"
    )
    ap.add_argument("--limit", type=int, default=None, help="first N records only (quick look)")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run Presidio's defaults")
    args = ap.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} not found (the evaluation data lives outside the repository)")
        return 0
    records = load_records(args.all_records, args.limit)
    ours_preds, ours_s = run_ours(records)
    ours = score(records, ours_preds)
    if args.skip_baseline:
        base, base_s = (
            {
                "per_type": {},
                "recall_person": None,
                "recall_direct": None,
                "precision": None,
                "predictions": 0,
            },
            0.0,
        )
    else:
        base_preds, base_s = run_presidio_defaults(records)
        base = score(records, base_preds)
    print(markdown(ours, base, len(records)))
    print(f"\ntime: ours {ours_s:.1f} s, Presidio defaults {base_s:.1f} s ({len(records)} records, CPU)")
    if not args.limit and not args.skip_baseline:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "dataset": "presidio-research synth_dataset_v2.json",
            "records": len(records),
            "subset": "all (line breaks as spaces)" if args.all_records else "single-line full_text",
            "ours": ours,
            "presidio_defaults": base,
            "seconds": {"ours": round(ours_s, 1), "presidio_defaults": round(base_s, 1)},
            "type_map": TYPE_MAP,
        }
        name = RESULTS.with_name("pii_all_records.json") if args.all_records else RESULTS
        name.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
