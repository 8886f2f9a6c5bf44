"""Django admin: policies editable; requests, decisions and audit read-only; cancel via the service."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from approvals.models import ApprovalPolicy, ApprovalRequest, AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_a_policy_with_authority_limits_is_created_in_admin(admin_client, roles):
    agents = Group.objects.get(name="Support agent")
    response = admin_client.post(
        reverse("admin:approvals_approvalpolicy_add"),
        {
            "name": "Refunds",
            "action": "service.issue_refund",
            "is_active": "on",
            "priority": "0",
            "description": "",
            "currency": "USD",
            "max_amount": "20000",
            "min_risk": "",
            "category": "",
            "vip": "unknown",
            "negative_sentiment": "unknown",
            "reviewer_groups": [agents.pk],
            "required_approvals": "1",
            "second_review_edit_ratio": "0.5",
            "sla_minutes": "240",
            "autopilot_confidence": "0.9",
            "autopilot_target": "0.95",
            "autopilot_min_samples": "50",
            "autopilot_window_days": "30",
            "autopilot_spot_check": "0.1",
            "authority_limits-TOTAL_FORMS": "1",
            "authority_limits-INITIAL_FORMS": "0",
            "authority_limits-0-group": agents.pk,
            "authority_limits-0-currency": "USD",
            "authority_limits-0-max_amount": "500",
            "autopilot_states-TOTAL_FORMS": "0",
            "autopilot_states-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = ApprovalPolicy.objects.get(name="Refunds")
    assert not policy.autopilot_enabled  # off unless ticked
    assert [(limit.group.name, str(limit.max_amount)) for limit in policy.authority_limits.all()] == [
        ("Support agent", "500.00")
    ]


def test_requests_are_read_only_and_show_their_object_permissions(admin_client, make_email_request):
    req = make_email_request()
    url = reverse("admin:approvals_approvalrequest_change", args=[req.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Object permissions: groups" in html
    assert "Support agent" in html
    assert 'name="_save"' not in html
    assert admin_client.post(url, {"status": "approved"}).status_code == 403
    assert admin_client.get(reverse("admin:approvals_approvalrequest_add")).status_code == 403
    assert admin_client.get(reverse("admin:approvals_approvalrequest_delete", args=[req.pk])).status_code == 403
    req.refresh_from_db()
    assert req.status == "pending"


def test_cancel_selected_goes_through_the_service(admin_client, admin_user, make_email_request):
    pending = make_email_request()
    response = admin_client.post(
        reverse("admin:approvals_approvalrequest_changelist"),
        {
            "action": "cancel_selected",
            "_selected_action": [pending.pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == ApprovalRequest.Status.CANCELLED
    event = AuditEvent.objects.get(request=pending, verb="cancelled")
    assert event.actor == admin_user


def test_a_manager_may_cancel_in_admin_but_an_agent_may_not(client, manager, make_user, make_email_request):
    req = make_email_request()
    url = reverse("admin:approvals_approvalrequest_changelist")
    form = {"action": "cancel_selected", "_selected_action": [req.pk]}
    # an agent with admin access sees the list but not the action
    agent = make_user("Support agent", username="agent1", is_staff=True)
    client.force_login(agent)
    assert "cancel_selected" not in client.get(url).content.decode()
    client.post(url, form)
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.PENDING
    # a manager may
    client.force_login(manager)
    assert "cancel_selected" in client.get(url).content.decode()
    client.post(url, form)
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.CANCELLED


def test_audit_events_cannot_be_added_changed_or_deleted(admin_client, make_email_request):
    req = make_email_request()
    event = AuditEvent.objects.get(request=req)
    assert admin_client.get(reverse("admin:approvals_auditevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:approvals_auditevent_add")).status_code == 403
    assert (
        admin_client.post(reverse("admin:approvals_auditevent_change", args=[event.pk]), {"verb": "x"}).status_code
        == 403
    )
    assert (
        admin_client.post(reverse("admin:approvals_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEvent.objects.get(pk=event.pk).verb == "created"
