"""Benchmark: a 50,000-contact campaign through the approval gate, Redis and real Celery workers.

    .venv/bin/python bench/marketing_send.py                # 50,000 contacts, 2 worker processes
    .venv/bin/python bench/marketing_send.py --contacts 5000 --concurrency 1
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hitl_bench_send \
        CELERY_BROKER_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/marketing_send.py

Reads its PostgreSQL database from ``DATABASE_URL`` and its Redis broker from
``CELERY_BROKER_URL`` (defaults: ``hitl_bench_marketing`` and Redis database 9). The database
is dropped and recreated and the Redis database flushed on every run, so the database name must
contain "bench". It creates the contacts, a campaign with two shortlisted variants and a
reviewer, submits the campaign (planning every send), starts ``celery worker -Q dispatch``
subprocesses with the file mail backend (``EmlFileBackend``, one .eml per message in a temp
folder), approves, and times from the approval to the last message marked sent. Then, in this
process, it builds the same 50,000 messages and hands them to the same backend with one raw
``send_messages`` call, and prints both rates and their ratio.

What the pipeline pays for on top of the raw call: the approval execution, 100 dispatch tasks
through Redis, one committed bookkeeping statement per message on PostgreSQL (the "sent" mark of
one message and the claim of the next: exactly-once bookkeeping),
consent/suppression re-checks and building each message (tracking tokens) in the worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/hitl_bench_marketing"
BROKER = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/9"
ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.marketing_settings",
    "SECRET_KEY": "bench-only-secret-key-marketing-4e2a9c7d1b3f5a8e",
    "HTTPS": "false",
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": BROKER,
    "LOG_LEVEL": "WARNING",
    "LOG_FORMAT": "text",
}


def recreate_database() -> None:
    import psycopg

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    if not parsed.scheme.startswith("postgres") or "bench" not in name:
        sys.exit(f"DATABASE_URL must name a PostgreSQL database with 'bench' in its name (it is dropped): {name!r}")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def start_workers(concurrency: int, mail_dir: Path, log: Path) -> subprocess.Popen:
    import redis

    redis.Redis.from_url(BROKER).flushdb()
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}},
        **ENV,
        "EMAIL_FILE_PATH": str(mail_dir),
        "PYTHONUNBUFFERED": "1",
    }
    handle = log.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "hitl_crm",
            "worker",
            "-Q",
            "dispatch",
            "-c",
            str(concurrency),
            "--pool",
            "prefork",
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-marketing-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("the worker did not start:\n" + log.read_text())
        time.sleep(0.2)
    return process


def stop_workers(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()
    os.environ.update(ENV)
    recreate_database()

    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.utils import timezone

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    from approvals.models import ApprovalPolicy
    from approvals.services import approval_decide
    from hitl_crm.accounts.roles import MANAGER, MARKETER, roles_ensure
    from hitl_crm.contacts.models import Contact
    from hitl_crm.delivery import EmlFileBackend
    from marketing.delivery import Composer, approved_copy, build_message
    from marketing.handlers import SEND_CAMPAIGN
    from marketing.models import Campaign, Segment, Send
    from marketing.services import campaign_create, campaign_lock_variants, campaign_submit, variant_create

    roles_ensure()
    from django.contrib.auth import get_user_model

    User = get_user_model()
    marketer = User.objects.create(username="bench-marketer")
    marketer.groups.add(Group.objects.get(name=MARKETER))
    reviewer = User.objects.create(username="bench-manager")
    reviewer.groups.add(Group.objects.get(name=MANAGER))
    policy = ApprovalPolicy.objects.create(name="Campaign sends", action=SEND_CAMPAIGN)
    policy.reviewer_groups.set([Group.objects.get(name=MANAGER)])
    now = timezone.now()
    Contact.objects.bulk_create(
        [
            Contact(
                first_name=f"Guest{i}",
                last_name="Bench",
                email=f"guest{i}@bench.example",
                email_consent=True,
                consent_at=now,
            )
            for i in range(args.contacts)
        ],
        batch_size=5000,
    )
    setup = time.perf_counter() - started
    segment = Segment.objects.create(name="Everyone", rules=[])
    campaign = campaign_create(
        actor=marketer,
        name="Bench launch",
        brief="A 50,000-contact send.",
        baseline_rate=0.03,
        min_detectable_effect=0.0005,
    )  # every contact is in a test cell
    body = "Hi {first_name},\n\nOur spring range is in: https://shop.example/spring\n\nBest,\nNorthwind"
    variant_create(campaign=campaign, actor=marketer, subject="Spring is here", body=body, style="benefit")
    variant_create(campaign=campaign, actor=marketer, subject="Ready for spring?", body=body, style="question")
    Campaign.objects.filter(pk=campaign.pk).update(segment=segment)
    campaign = campaign_lock_variants(campaign=Campaign.objects.get(pk=campaign.pk), actor=marketer)
    t = time.perf_counter()
    req = campaign_submit(campaign=campaign, actor=marketer)
    submit_s = time.perf_counter() - t

    work = Path(tempfile.mkdtemp(prefix="bench-marketing-"))
    pipeline_dir, raw_dir = work / "pipeline", work / "raw"
    workers = start_workers(args.concurrency, pipeline_dir, work / "worker.log")
    try:
        t0 = time.perf_counter()
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")
        sent = Send.objects.filter(campaign=campaign, status=Send.Status.SENT)
        progress = []
        while True:
            done = sent.count()
            progress.append((time.perf_counter() - t0, done))
            if done >= args.contacts:
                break
            if time.perf_counter() - t0 > 900:
                sys.exit(f"timed out with {done} sent; see {work / 'worker.log'}")
            time.sleep(0.5)
        pipeline_s = time.perf_counter() - t0
    finally:
        stop_workers(workers)
    files = list(pipeline_dir.glob("*.eml"))
    campaign.refresh_from_db()

    # the same messages, built here and handed to the same backend in one raw call
    rows = list(Send.objects.filter(campaign=campaign).select_related("contact").order_by("pk"))
    copies = approved_copy(campaign, "test")
    t = time.perf_counter()
    composer = Composer()  # one per batch in the workers; one for all here
    messages = [
        build_message(send=row, contact=row.contact, copy=copies[str(row.variant_id)], composer=composer)
        for row in rows
    ]
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    accepted = EmlFileBackend(file_path=str(raw_dir)).send_messages(messages)
    raw_s = time.perf_counter() - t
    raw_files = len(list(raw_dir.glob("*.eml")))
    shutil.rmtree(work)

    n = args.contacts
    rate = n / pipeline_s
    steady = [(b - a, d2 - d1) for (a, d1), (b, d2) in zip(progress, progress[1:], strict=False) if d2 > d1]
    steady_rate = statistics.median(d / s for s, d in steady) if steady else rate
    print(
        f"\nmarketing send benchmark: {n:,} contacts, {args.concurrency} worker process(es), "
        f"PostgreSQL + Redis, EmlFileBackend"
    )
    print(f"  setup (migrate + contacts)          {setup:8.1f} s")
    print(f"  submit (plan {n:,} sends + request) {submit_s:8.2f} s")
    print(f"  {'step':<38}{'seconds':>9}{'msgs/s':>10}")
    print(f"  {'pipeline: approve -> last sent':<38}{pipeline_s:9.2f}{rate:10.0f}")
    print(f"  {'  (median rate while sending)':<38}{'':>9}{steady_rate:10.0f}")
    print(f"  {'raw send_messages (same messages)':<38}{raw_s:9.2f}{n / raw_s:10.0f}")
    print(f"  {'raw build + send_messages':<38}{build_s + raw_s:9.2f}{n / (build_s + raw_s):10.0f}")
    print(f"  ratio pipeline / raw send_messages      {rate / (n / raw_s):.3f}")
    print(f"  ratio pipeline / raw build + send       {rate / (n / (build_s + raw_s)):.3f}")
    print(f"  files written by the workers: {len(files):,} (expected {n:,}); raw: {raw_files:,} of {accepted:,}")
    print(f"  campaign status: {campaign.status}; duplicates: {len(files) - n}")


if __name__ == "__main__":
    main()
