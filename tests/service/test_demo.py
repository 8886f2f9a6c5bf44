"""``seed_demo`` gives the service desk a believable history with real items in the review queue."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest

from approvals.models import ApprovalRequest
from hitl_crm.accounts.roles import roles_ensure
from hitl_crm.contacts import demo as contacts_demo
from hitl_crm.web.management.commands.seed_demo import Command as SeedDemo
from service import demo
from service.models import Case, KnowledgeArticle, LedgerEntry, Message, RefundRequest
from service.routing import ISSUE_REFUND, SEND_REPLY


@pytest.mark.django_db(transaction=True)  # as in a real run: each message's pipeline runs when it commits
def test_seed_demo_fills_the_desk_once(settings, tmp_path):
    settings.EMAIL_FILE_PATH = tmp_path

    # given: what seed_demo runs before the service desk (roles, demo users, contacts)
    roles_ensure()
    SeedDemo()._users()
    contacts_demo.seed(stdout=StringIO())

    # when
    out = StringIO()
    demo.seed(stdout=out)

    # then: articles, ~40 cases through the real pipeline, a few angry ones, refunds of every size
    assert KnowledgeArticle.objects.filter(published=True).count() == 14
    assert Case.objects.count() == 40
    assert Case.objects.filter(sentiment__lte=-0.5).count() >= 4
    assert Case.objects.filter(risk__in=["high", "critical"]).count() >= 3
    assert sorted(RefundRequest.objects.values_list("amount", flat=True)) == [
        Decimal(v) for v in ("35.00", "60.00", "180.00", "1200.00", "5000.00", "24000.00")
    ]
    pending = ApprovalRequest.objects.filter(status="pending")
    assert pending.filter(action=SEND_REPLY).count() >= 25
    assert pending.filter(action=ISSUE_REFUND).count() == 6
    assert pending.filter(action=ISSUE_REFUND, required_approvals=2).count() == 1  # the $24,000
    # … and a history: drafts the demo agent approved went out as replies
    assert Message.objects.filter(direction="out").count() >= 5
    assert not LedgerEntry.objects.exists()  # no refund is paid without a person
    assert "service: 6 routing policies, 14 knowledge articles, 40 new cases" in out.getvalue()
    # … and the demo agent has open cases of their own on the dashboard
    mine = Case.objects.filter(owner__username="sue").exclude(status__in=["resolved", "closed"])
    assert mine.count() >= 5
    assert f"{mine.count()} cases assigned to the agent" in out.getvalue()

    # when: it runs again
    counts = (Case.objects.count(), Message.objects.count(), ApprovalRequest.objects.count())
    demo.seed(stdout=StringIO())

    # then: nothing new
    assert (Case.objects.count(), Message.objects.count(), ApprovalRequest.objects.count()) == counts
    assert Case.objects.filter(owner__username="sue").count() == mine.count()
