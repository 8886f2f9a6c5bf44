"""Policy admin: the action is a registered one, amounts carry a currency, and "Try a request" shows the routing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ExchangeRate

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def _policy_form(**changes: str) -> dict[str, str]:
    data = {
        "name": "Refunds",
        "action": "tests.refund",
        "is_active": "on",
        "priority": "0",
        "description": "",
        "currency": "USD",
        "min_amount": "",
        "max_amount": "20000",
        "min_risk": "",
        "category": "",
        "vip": "unknown",
        "negative_sentiment": "unknown",
        "required_approvals": "1",
        "second_review_edit_ratio": "0.5",
        "sla_minutes": "240",
        "autopilot_confidence": "0.9",
        "autopilot_target": "0.95",
        "autopilot_min_samples": "50",
        "autopilot_window_days": "30",
        "autopilot_spot_check": "0.1",
        "authority_limits-TOTAL_FORMS": "0",
        "authority_limits-INITIAL_FORMS": "0",
        "autopilot_states-TOTAL_FORMS": "0",
        "autopilot_states-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def _preview(client, policy: ApprovalPolicy | None = None, **params: str):
    if policy is None:
        url = reverse("admin:approvals_approvalpolicy_routing_preview_any")
    else:
        url = reverse("admin:approvals_approvalpolicy_routing_preview", args=[policy.pk])
    return client.get(url, params)


def _summary(response) -> str:
    assert response.status_code == 200, response.content.decode()[:2000]
    outcome = response.context["outcome"]
    assert outcome is not None, response.context["form"].errors
    return outcome.summary


# --- the policy form ------------------------------------------------------------------------


def test_the_action_is_a_choice_of_the_registered_actions(admin_client, refund_action):
    page = admin_client.get(reverse("admin:approvals_approvalpolicy_add"))
    html = page.content.decode()
    assert '<option value="tests.refund">Refund (test) (tests.refund)</option>' in html
    assert f'<option value="{NOTIFY_EMAIL}">' in html
    assert "Amount range (in the policy&#x27;s currency)" in html


def test_a_policy_for_an_unknown_action_is_a_form_error(admin_client, refund_action):
    response = admin_client.post(reverse("admin:approvals_approvalpolicy_add"), _policy_form(action="tests.nope"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["action"] == [
        "“tests.nope” is not a registered approval action. Choose one of the list "
        "(an action appears once the app that provides it is installed)."
    ]
    assert not ApprovalPolicy.objects.exists()
    # the same form with a registered action saves
    assert admin_client.post(reverse("admin:approvals_approvalpolicy_add"), _policy_form()).status_code == 302
    assert ApprovalPolicy.objects.get().action == "tests.refund"


def test_an_unknown_currency_and_an_inverted_range_are_form_errors(admin_client, refund_action):
    response = admin_client.post(
        reverse("admin:approvals_approvalpolicy_add"), _policy_form(currency="XYZ", min_amount="500", max_amount="100")
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["currency"] == ["XYZ is not a known ISO 4217 currency code."]
    assert errors["max_amount"] == ["The maximum must be at least the minimum."]
    assert not ApprovalPolicy.objects.exists()


def test_a_policy_whose_action_is_no_longer_registered_still_opens_and_saves(admin_client):
    policy = ApprovalPolicy.objects.create(name="Old", action="gone.app_action", currency="EUR", min_amount="10")
    url = reverse("admin:approvals_approvalpolicy_change", args=[policy.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="gone.app_action" selected>gone.app_action (not registered)</option>' in html
    assert "in the policy's currency (now EUR)" in html
    # it can still be switched off without choosing another action
    response = admin_client.post(
        url, _policy_form(name="Old", action="gone.app_action", currency="EUR", min_amount="10", is_active="")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert (policy.action, policy.is_active) == ("gone.app_action", False)


def test_the_change_form_links_to_the_routing_preview(admin_client, refund_policies):
    policy = refund_policies["small"]
    html = admin_client.get(reverse("admin:approvals_approvalpolicy_change", args=[policy.pk])).content.decode()
    assert reverse("admin:approvals_approvalpolicy_routing_preview", args=[policy.pk]) in html
    changelist = admin_client.get(reverse("admin:approvals_approvalpolicy_changelist")).content.decode()
    assert reverse("admin:approvals_approvalpolicy_routing_preview_any") in changelist


# --- "Try a request" ------------------------------------------------------------------------


def test_the_preview_opens_with_the_policys_action_and_currency(admin_client, refund_policies):
    policy = refund_policies["small"]
    response = _preview(admin_client, policy)
    assert response.status_code == 200
    assert response.context["outcome"] is None
    form = response.context["form"]
    assert (form["action"].value(), form["currency"].value()) == ("tests.refund", "USD")


def test_the_preview_names_the_winning_policy_below_and_above_the_boundary(admin_client, refund_policies):
    small, large = refund_policies["small"], refund_policies["large"]
    # given: ≤ 20,000 goes to agents and managers, from 20,000.01 to two managers
    # when / then: at the boundary the small policy still applies (inclusive)
    response = _preview(admin_client, small, action="tests.refund", amount="20,000.00", currency="USD", risk="low")
    assert response.context["outcome"].policy == small
    assert _summary(response) == (
        "A 20,000.00 USD “Refund (test)” request (risk low, not VIP) goes to: Manager (group), "
        "Support agent (group), 1 approval, SLA 4 h, escalates to Manager (group)."
    )
    assert response.context["outcome"].authority == [
        "Manager: up to 20,000.00 USD, may approve it",
        "Support agent: up to 500.00 USD, may not approve it (above the limit)",
    ]
    # one cent more goes to the large policy, from the small policy's page too
    response = _preview(admin_client, small, action="tests.refund", amount="20000.01", currency="USD", risk="low")
    assert response.context["outcome"].policy == large
    assert _summary(response) == (
        "A 20,000.01 USD “Refund (test)” request (risk low, not VIP) goes to: Manager (group), "
        "2 approvals by distinct reviewers, SLA 4 h, escalates to Manager (group)."
    )
    html = response.content.decode()
    assert "not this policy: “Refunds ≤ 20k” does not win for this request" in html


def test_the_preview_agrees_with_the_gate(admin_client, refund_policies, make_refund):
    for amount in ("120.00", "20000.01"):
        response = _preview(admin_client, action="tests.refund", amount=amount, currency="USD", risk="low")
        assert response.context["outcome"].policy == make_refund(amount=amount).policy


def test_the_preview_converts_currencies_like_the_gate(admin_client, refund_policies):
    # given: 1 EUR = 1.10 USD, no rate for GBP
    ExchangeRate.objects.create(currency="EUR", base_currency="USD", rate=Decimal("1.10"))
    # when: 19,000 EUR (= 20,900 USD, above the small policy's 20,000 USD)
    response = _preview(admin_client, action="tests.refund", amount="19000", currency="EUR", risk="low")
    # then
    assert response.context["outcome"].policy == refund_policies["large"]
    assert response.context["outcome"].conversion == (
        "19,000.00 EUR is 20,900.00 USD in the policy's currency (newest exchange rate, rounded up)."
    )
    # an amount in a currency without a rate is refused, as the gate refuses it
    response = _preview(admin_client, action="tests.refund", amount="100", currency="GBP", risk="low")
    assert response.context["outcome"].policy is None
    assert "is refused by the gate: No exchange rate from GBP to USD is configured" in _summary(response)


def test_the_preview_says_when_no_policy_matches(admin_client, roles):
    # given: no policy for the e-mail action
    response = _preview(admin_client, action=NOTIFY_EMAIL, amount="", currency="USD", risk="high", category="refund")
    assert response.context["outcome"].policy is None
    assert _summary(response) == (
        "A “Email a contact” request without an amount (risk high, category refund, not VIP): "
        "no active policy matches: the default routing applies (Manager (group), 1 approval, SLA 4 h, "
        "escalates to Manager (group))."
    )


def test_conditions_other_than_the_amount_are_routed_too(admin_client, refund_action, agents, managers):
    vip = ApprovalPolicy.objects.create(name="VIP refunds", action="tests.refund", vip=True, sla_minutes=90)
    vip.reviewer_groups.set([managers])
    response = _preview(admin_client, action="tests.refund", amount="50", currency="USD", risk="low", vip="on")
    assert response.context["outcome"].policy == vip
    assert "SLA 1 h 30 min" in _summary(response)
    response = _preview(admin_client, action="tests.refund", amount="50", currency="USD", risk="low")
    assert response.context["outcome"].policy is None


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"amount": "abc", "currency": "USD"}, "amount", "“abc” is not an amount; write it like 1,200.00."),
        ({"amount": "10", "currency": "XYZ"}, "currency", "XYZ is not a known ISO 4217 currency code."),
        ({"amount": "10", "currency": "USD", "action": "tests.nope"}, "action", None),
    ],
)
def test_bad_input_is_a_form_error_not_a_server_error(admin_client, refund_policies, params, field, message):
    response = _preview(admin_client, refund_policies["small"], **{"action": "tests.refund", "risk": "low", **params})
    assert response.status_code == 200
    assert response.context["outcome"] is None
    errors = response.context["form"].errors[field]
    assert errors == [message] if message else errors
    assert "Please correct the errors below." in response.content.decode()


def test_the_preview_needs_the_view_permission(client, make_user, refund_policies):
    policy = refund_policies["small"]
    staff = make_user(username="staff1", is_staff=True)
    client.force_login(staff)
    assert _preview(client, policy).status_code == 403
    assert _preview(client).status_code == 403
    # with the view permission alone it opens (and routes)
    staff.user_permissions.add(Permission.objects.get(codename="view_approvalpolicy"))
    staff = type(staff).objects.get(pk=staff.pk)  # drop the cached permissions
    client.force_login(staff)
    response = _preview(client, policy, action="tests.refund", amount="10", currency="USD", risk="low")
    assert response.context["outcome"].policy == policy


def test_the_preview_of_a_missing_policy_is_not_found(admin_client, roles):
    assert _preview(admin_client, ApprovalPolicy(pk=999_999)).status_code == 404
