from io import StringIO

import pytest

from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_decide
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_seed_demo_creates_policies_and_a_non_empty_queue_once(roles, make_user):
    from django.apps import apps

    ContactFactory.create_batch(5)
    config = apps.get_app_config("approvals")
    config.seed_demo(stdout=StringIO())
    config.seed_demo(stdout=StringIO())
    assert set(ApprovalPolicy.objects.values_list("name", flat=True)) == {
        "Email to a contact",
        "Email to a VIP contact",
    }  # refund policies are seeded by the service app, which owns the refund action
    assert ApprovalRequest.objects.filter(status="pending").count() == 4
    # and a demo agent can work the queue
    agent = make_user("Support agent", username="sue")
    req = ApprovalRequest.objects.filter(policy__name="Email to a contact").first()
    approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=agent, verdict="approve")
