"""With PostgreSQL, Redis and a real Celery worker: an import runs in the background with
progress, the debounced rescore follows, and an approved follow-up is sent by the worker."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_decide
from hitl_crm.accounts.roles import MANAGER, SALES_REP
from leads.followups import SEND_FOLLOWUP
from leads.models import Lead, LeadEvent, LeadImport
from leads.services import lead_followup_request_draft, lead_import_create, lead_import_start
from tests.celery_worker import broker_url_for_this_process, celery_worker, tasks_through_broker, wait_for
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.integration


def test_an_import_runs_on_the_worker_with_progress_and_the_leads_get_scored(real_services, manager):
    ScoringRuleFactory(name="Referral", points=10)
    rows = "".join(f"w{i}@worker.example,Company {i},{'Referral' if i % 2 else 'Web'}\n" for i in range(6000))
    data = f"Email,Company,Source\n{rows}broken,X,Web\n".encode()
    imp = lead_import_create(file_name="big.csv", data=data, actor=manager)
    client = Client()
    client.force_login(manager)
    broker = broker_url_for_this_process()
    with celery_worker(broker_url=broker, queues="default") as worker, tasks_through_broker(broker):
        lead_import_start(lead_import=imp, mapping=imp.mapping, actor=manager)
        seen: set[int] = set()

        def finished() -> bool:
            html = client.get(reverse("leads:import_progress", args=[imp.pk]), HTTP_HX_REQUEST="true").content
            seen.add(LeadImport.objects.get(pk=imp.pk).processed_rows)
            return b'hx-trigger="every 1s"' not in html

        wait_for(finished, timeout=45, interval=0.2, what="the import to finish", log=worker.lines)
        imp.refresh_from_db()
        assert (imp.status, imp.created_rows, imp.failed_rows) == ("done", 6000, 1)
        assert max(seen) == 6001
        # the debounced rescore runs on the worker after the import
        wait_for(
            lambda: not Lead.objects.filter(score__isnull=True).exists(),
            timeout=45,
            interval=0.2,
            what="the rescore after the import",
            log=worker.lines,
        )
    assert Lead.objects.filter(source="Referral", score=100, tier="A").count() == 3000


def test_a_follow_up_is_drafted_on_the_ai_queue_and_sent_by_the_worker_after_approval(
    real_services, sales_rep, manager, tmp_path
):
    policy = ApprovalPolicy.objects.create(name="Lead follow-up", action=SEND_FOLLOWUP)
    policy.reviewer_groups.set(Group.objects.filter(name__in=[SALES_REP, MANAGER]))
    lead = LeadFactory(first_name="Dana", email="dana@worker.example", owner=sales_rep)
    LeadEvent.objects.create(lead=lead, kind="meeting", data={"note": "Can you deliver in May?"})
    broker = broker_url_for_this_process()
    env = {"EMAIL_FILE_PATH": str(tmp_path)}
    with celery_worker(broker_url=broker, extra_env=env) as worker, tasks_through_broker(broker):
        assert lead_followup_request_draft(lead=lead, actor=sales_rep)
        req = wait_for(
            lambda: ApprovalRequest.objects.filter(action=SEND_FOLLOWUP).first(),
            timeout=45,
            interval=0.2,
            what="the drafted follow-up",
            log=worker.lines,
        )
        assert not [p for p in tmp_path.glob("*.eml") if b"dana@worker.example" in p.read_bytes()]  # not sent
        approval_decide(
            request_id=req.pk,
            payload_hash=req.payload_hash,
            reviewer=manager,
            verdict="approve",
            edits={"body": req.final["body"] + "\nMay works."},  # a light edit: no second reviewer needed
        )
        wait_for(
            lambda: ApprovalRequest.objects.get(pk=req.pk).status == "executed",
            timeout=45,
            interval=0.2,
            what="the follow-up to be sent",
            log=worker.lines,
        )
    [eml] = [p for p in tmp_path.glob("*.eml") if b"dana@worker.example" in p.read_bytes()]
    assert b"May works." in eml.read_bytes()
    assert LeadEvent.objects.filter(lead=lead, kind="email_sent").count() == 1
