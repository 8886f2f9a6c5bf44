"""The nav badge ("N waiting for you") is a kernel counter: it may be up to HITL_CRM_COUNTER_SECONDS
stale for requests that arrive, but a reviewer's own decision takes the item off their badge at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from approvals.services import approval_decide

pytestmark = pytest.mark.django_db

BADGE = "/approvals/badge/"


def _badge(client) -> str:
    return client.get(BADGE).content.decode()


@override_settings(HITL_CRM_COUNTER_SECONDS=30)
def test_the_badge_stays_for_the_window_but_drops_at_once_after_your_own_decision(
    client, make_email_request, support_agent, make_user, django_capture_on_commit_callbacks
):
    # given: two agents have looked at their badges; three requests wait for both
    colleague = make_user("Support agent", username="colleague")
    reqs = [make_email_request() for _ in range(3)]
    client.force_login(colleague)
    assert _badge(client) == "3"
    client.force_login(support_agent)
    assert _badge(client) == "3"

    # when: another request arrives
    make_email_request()

    # then: within the window the badge stays as counted
    assert _badge(client) == "3"

    # when: the agent rejects two of them
    for req in reqs[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            approval_decide(
                request_id=req.pk,
                reviewer=support_agent,
                verdict="reject",
                reason="tone",
                payload_hash=req.payload_hash,
            )

    # then: the agent's own badge is counted again at once: four arrived, two decided …
    assert _badge(client) == "2"
    # … while the colleague's stays as counted within the window, and catches up after it
    client.force_login(colleague)
    assert _badge(client) == "3"
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        assert _badge(client) == "2"


@override_settings(HITL_CRM_COUNTER_SECONDS=30)
def test_a_decision_drops_the_deciders_badge_at_once(
    client, make_email_request, support_agent, django_capture_on_commit_callbacks
):
    reqs = [make_email_request() for _ in range(3)]
    client.force_login(support_agent)
    assert _badge(client) == "3"

    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(
            request_id=reqs[0].pk,
            reviewer=support_agent,
            verdict="reject",
            reason="tone",
            payload_hash=reqs[0].payload_hash,
        )

    assert _badge(client) == "2"


@override_settings(HITL_CRM_COUNTER_SECONDS=30)
def test_other_reviewers_see_new_requests_once_the_window_has_passed(client, make_email_request, support_agent):
    make_email_request()
    client.force_login(support_agent)
    assert _badge(client) == "1"

    make_email_request()

    assert _badge(client) == "1"
    with time_machine.travel(timezone.now() + timedelta(seconds=31), tick=False):
        assert _badge(client) == "2"
