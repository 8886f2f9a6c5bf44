"""Benchmark of the offline AI engine: triage + summary + draft per case, and redaction recall.

Run: ``.venv/bin/python bench/ai_offline.py [--cases 200]``

It migrates a throw-away SQLite database, trains the intent model on synthetic labelled
messages, then times ``run()`` — the real entry point, AiRun rows included — on synthetic
support cases, and prints median / p95 latencies. Target: triage + summary + draft ≤ 50 ms
median. It also prints redaction recall over the PII table of tests/ai/pii_cases.py
(target 100 %). Everything here is generated; no dataset rows are used.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="hitl-ai-bench-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from hitl_crm.ai.engine import run  # noqa: E402
from hitl_crm.ai.services import intent_example_add, intent_model_train  # noqa: E402
from hitl_crm.ai.trust import redact  # noqa: E402
from tests.ai.pii_cases import NOT_PII, PII_CASES  # noqa: E402
from tests.ai.synthetic import examples  # noqa: E402

FIRST = ["Maria", "James", "Aiko", "Liam", "Fatima", "Noah", "Olga", "Ravi", "Chloe", "Diego"]
LAST = ["Gonzalez", "Smith", "Tanaka", "Okafor", "Novak", "Silva", "Berg", "Patel", "Martin", "Rossi"]
PRODUCTS = ["Trailblazer 2 tent", "Alpine Fleece", "Summit 40 backpack", "Glacier boots", "Ember stove"]
PROBLEMS = [
    ("arrived damaged, the {part} is cracked", "damaged"),
    ("still hasn't arrived and tracking shows nothing since {date}", "late"),
    ("was charged twice, {amount} each time", "billing"),
    ("is the wrong size, I need to return it", "return"),
]
MOODS = [
    "",
    "This is really frustrating. ",
    "Honestly this is unacceptable and I'm losing patience. ",
    "Thanks in advance for your help! ",
]
KNOWLEDGE = [
    {
        "id": "kb-1",
        "title": "Items that arrive damaged",
        "body": "If an item arrives damaged, we send a free "
        "replacement part. Replacement parts ship within 5 business days. You don't need to send the damaged part "
        "back. Please include a photo of the damage in your reply.",
    },
    {
        "id": "kb-2",
        "title": "Where is my order?",
        "body": "Orders ship within 2 business days. You can follow "
        "your parcel on the Orders page, which shows the carrier and the tracking link. If tracking has not moved "
        "for 5 business days, we open an investigation with the carrier.",
    },
    {
        "id": "kb-3",
        "title": "Double charges",
        "body": "A double charge is usually a card pre-authorisation that "
        "drops off within 3 business days. If both charges are still there after that, send us the last four digits "
        "of the card and we will investigate with the payment provider.",
    },
    {
        "id": "kb-4",
        "title": "Returns and exchanges",
        "body": "You can return unused items within 30 days. Start a "
        "return at https://shop.example/returns and print the prepaid label. Exchanges for another size ship once "
        "the return is scanned by the carrier.",
    },
    {
        "id": "kb-5",
        "title": "Warranty",
        "body": "Tents and stoves carry a two-year warranty against "
        "manufacturing defects. Warranty claims need the order number and a photo.",
    },
    {
        "id": "kb-6",
        "title": "Shipping options",
        "body": "Standard shipping takes 3-7 business days. Express shipping takes 1-2 business days and costs $15.",
    },
]
EXEMPLARS = [
    {
        "id": 101,
        "question": "My tent arrived with a broken pole, what can you do?",
        "reply": "Hi Sam,\n\nSorry about "
        "that. We send a free replacement part for items that arrive damaged, and it ships within 5 business days. "
        "Could you reply with a photo of the pole?\n\nBest,\nLee",
    },
    {
        "id": 102,
        "question": "I see two charges for one order",
        "reply": "Hi Jo,\n\nThe second charge is usually a "
        "pre-authorisation that drops off within 3 business days. If it is still there after that, let us know and "
        "we will investigate.\n\nBest,\nLee",
    },
]


def make_case(rng: random.Random, index: int) -> dict:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    product = rng.choice(PRODUCTS)
    template, _kind = rng.choice(PROBLEMS)
    order = f"#{rng.randint(10000, 99999)}"
    problem = template.format(
        part=rng.choice(["pole", "zip", "lid", "buckle"]),
        date=f"March {rng.randint(1, 28)}",
        amount=f"${rng.randint(20, 400)}.{rng.randint(10, 99)}",
    )
    mood = rng.choice(MOODS)
    text = (
        f"Hi, this is {first} {last}. {mood}My {product} (order {order}) {problem}. "
        f"Can you help? You can reach me at {first.lower()}.{last.lower()}{index}@mail.example or "
        f"(415) 555-01{rng.randint(10, 99)}."
    )
    messages = [
        {"speaker": "customer", "text": text},
        {
            "speaker": "agent",
            "text": f"Thanks {first}, I can see order {order} for the {product}. "
            "Let me check what happened and get back to you.",
        },
        {"speaker": "customer", "text": "OK, please hurry, I need it for a trip next weekend."},
    ]
    return {"name": f"{first} {last}", "text": text, "messages": messages}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    for text, intent, category in examples(per_intent=25):
        intent_example_add(text=text, intent=intent, category=category)
    model = intent_model_train(holdout=0)
    print(
        f"setup: migrate + train {model.label} on {model.trained_on} examples in {time.perf_counter() - started:.1f}s"
    )

    rng = random.Random(args.seed)
    cases = [make_case(rng, i) for i in range(args.cases)]
    timings: dict[str, list[float]] = {"triage": [], "summarize": [], "draft_reply": [], "total": []}
    for case in cases[:5]:  # warm-up: lexicons, model JSON, content types
        run("triage", {"text": case["text"]})
    for case in cases:
        known = {"known": {"names": [case["name"]]}}
        t0 = time.perf_counter()
        triage = run("triage", {"text": case["text"]}, context=known)
        t1 = time.perf_counter()
        run("summarize", {"messages": case["messages"]}, context=known)
        t2 = time.perf_counter()
        run(
            "draft_reply",
            {
                "customer_text": case["text"],
                "customer_name": case["name"],
                "agent_name": "Sam",
                "sentiment": triage.output["sentiment"],
                "knowledge": KNOWLEDGE,
                "exemplars": EXEMPLARS,
            },
            context=known,
        )
        t3 = time.perf_counter()
        for key, value in (("triage", t1 - t0), ("summarize", t2 - t1), ("draft_reply", t3 - t2), ("total", t3 - t0)):
            timings[key].append(value * 1000)

    print(f"\noffline run() latency over {args.cases} synthetic cases (AiRun saved each time), ms")
    print(f"{'step':<24}{'median':>10}{'p95':>10}")
    for key, values in timings.items():
        label = "triage+summary+draft" if key == "total" else key
        print(f"{label:<24}{statistics.median(values):>10.2f}{pct(values, 95):>10.2f}")
    verdict = "OK" if statistics.median(timings["total"]) <= 50 else "ABOVE TARGET"
    print(f"target: median triage+summary+draft <= 50 ms -> {verdict}")

    total = found = 0
    for text, known, expected in PII_CASES:
        redacted, _ = redact(text, known=known)
        for value in expected.values():
            total += 1
            found += value not in redacted
    false_positives = sum(bool(redact(text, known={})[1]) for text in NOT_PII)
    print(f"\nredaction recall over the PII table: {found}/{total} = {found / total:.1%} (target 100%)")
    print(f"look-alikes wrongly redacted: {false_positives}/{len(NOT_PII)}")


if __name__ == "__main__":
    main()
