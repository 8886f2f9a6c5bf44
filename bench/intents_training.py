"""Benchmark of ``train_intents`` at business scale: 10,000 labelled examples over 77 intents.

Run: ``.venv/bin/python bench/intents_training.py [--data ../shared/data] [--rows 10000]``

The evaluation data of ``../shared/data`` has no 77-intent set, so one is assembled in a
temporary directory (never in the repository): the 27 Bitext intents plus the 50 StackFAQ
threads with the most rewordings (each thread is one intent: its question and rewordings).
That gives about 5,100 real rows; the rest up to ``--rows`` are perturbed copies of them
(a dropped word and a swapped letter pair), said so in the output.

It migrates a throw-away SQLite database and runs the real command
``train_intents --csv … --save-examples`` (bulk insert + training + calibration), then prints
the training time, the stored model size, the cold load time of the stored model and the
median prediction latency.
"""

from __future__ import annotations

import argparse
import atexit
import csv
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="hitl-intents-bench-")
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP}/bench.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402


def _perturb(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) > 3:
        del words[rng.randrange(len(words))]
    i = rng.randrange(len(words))
    word = words[i]
    if len(word) > 3:
        j = rng.randrange(len(word) - 1)
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    return " ".join(words)


def build_rows(data: Path, total: int, seed: int = 7) -> tuple[list[tuple[str, str, str]], int]:
    """(text, intent, category) rows over 77 intents, and how many of them are real."""
    rows: list[tuple[str, str, str]] = []
    with (data / "bitext_customer_support_intents_4514rows.csv").open(newline="", encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            rows.append((r["instruction"].strip(), r["intent"].strip(), r["category"].strip()))
    faq = json.loads((data / "StackFAQ_stackExchange-FAQ.json").read_text(encoding="utf-8"))["root"]["qapair"]
    faq = sorted(faq, key=lambda t: (-len(t.get("rephr") or []), t["question"]))[:50]
    for n, thread in enumerate(faq):
        texts = [t for t in [thread.get("question"), *(thread.get("rephr") or [])] if isinstance(t, str)]
        rows += [(t.strip(), f"faq_{n:02d}", "FAQ") for t in texts if len(t.strip()) > 3]
    real = len(rows)
    rng = random.Random(seed)
    base = list(rows)
    while len(rows) < total:
        text, intent, category = rng.choice(base)
        rows.append((_perturb(text, rng), intent, category))
    rng.shuffle(rows)
    return rows[:total], real


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    if not (args.data / "bitext_customer_support_intents_4514rows.csv").is_file():
        sys.exit(f"Bitext data not found under {args.data}; pass --data.")
    rows, real = build_rows(args.data, args.rows)
    path = Path(_TMP) / "labelled.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent", "category"])
        writer.writerows(rows)
    print(
        f"data: {len(rows)} rows over {len({r[1] for r in rows})} intents ({real} real, {len(rows) - real} perturbed)"
    )

    call_command("migrate", verbosity=0)
    out = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(out):
        call_command("train_intents", "--csv", str(path), "--category-col", "category", "--save-examples", stdout=out)
    elapsed = time.perf_counter() - started
    print(out.getvalue().rstrip())
    print(f"train_intents wall time (insert + hold-out fit + final fit): {elapsed:.1f} s")

    from django.db import connection

    from hitl_crm.ai.models import TrainedModel
    from hitl_crm.ai.selectors import intent_model_active

    record = TrainedModel.objects.get(active=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT length(params) FROM ai_trainedmodel WHERE id = %s", [record.pk])
        stored = cursor.fetchone()[0]
    from hitl_crm.ai import selectors

    selectors._loaded.clear()
    started = time.perf_counter()
    model = intent_model_active()
    load = time.perf_counter() - started
    assert model is not None
    print(f"stored model: {stored / 1e6:.2f} MB JSON; cold load (query + parse + build) {load * 1000:.0f} ms")
    started = time.perf_counter()
    for _ in range(100):
        intent_model_active()
    print(f"cached intent_model_active(): {(time.perf_counter() - started) * 10:.2f} ms per call")
    samples = [r[0] for r in rows[:300]]
    times = []
    for text in samples:
        started = time.perf_counter()
        model.predict(text)
        times.append((time.perf_counter() - started) * 1000)
    print(f"predict: median {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
