from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.services import approval_decide

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_a_pending_request_becomes_overdue_after_its_due_time(make_email_request):
    req = make_email_request()
    assert req.is_open
    assert not req.is_overdue
    with time_machine.travel(req.due_at + timedelta(seconds=1)):
        assert req.is_overdue


def test_approvals_count_only_counts_approvals_of_the_current_payload(make_refund, make_user, manager):
    second = make_user("Manager", username="manager2")
    req = make_refund("30000.00")
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=manager, verdict="approve")
    assert ApprovalRequest.objects.get(pk=req.pk).approvals_count == 1
    approval_decide(
        request_id=req.pk,
        payload_hash=req.payload_hash,
        reviewer=second,
        verdict="approve_with_edits",
        edits={"note": "edited"},
    )
    fresh = ApprovalRequest.objects.get(pk=req.pk)
    assert fresh.approvals_count == 1  # the first approval was for the old text
    assert fresh.decisions.count() == 2


def test_action_spec_is_the_registered_action(make_email_request):
    req = make_email_request()
    assert req.action_spec.label == "Email a contact"
    assert req.action_spec.editable_fields == ("subject", "body")
    assert timezone.now() < req.due_at
