"""Policy, authority-limit, group-membership and permission changes are audited, with the actor."""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.forms import CheckboxInput, MultiWidget, NullBooleanSelect
from django.urls import reverse

from approvals.audit import audit_verify_report
from approvals.checks import check_audit_settings
from approvals.models import ApprovalPolicy, AuditEvent, AuthorityLimit
from hitl_crm.accounts.roles import MANAGER, SUPPORT_AGENT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def _form_data(form, data: dict[str, Any]) -> None:
    for name, field in form.fields.items():
        if field.disabled:
            continue
        key, value, widget = form.add_prefix(name), form[name].value(), field.widget
        if isinstance(widget, CheckboxInput):
            if value:
                data[key] = "on"
        elif isinstance(widget, NullBooleanSelect):
            data[key] = {True: "true", False: "false"}.get(value, "unknown")
        elif isinstance(widget, MultiWidget):
            for i, (sub, part) in enumerate(zip(widget.widgets, widget.decompress(value), strict=False)):
                data[f"{key}_{i}"] = sub.format_value(part) or ""
        elif isinstance(value, list | tuple):
            data[key] = [str(v) for v in value]
        else:
            data[key] = "" if value is None else str(value)


def resubmit(client, url: str, **changes: Any):
    """Post an admin change form back as shown, with ``changes`` applied (whatever fields it has)."""
    page = client.get(url)
    assert page.status_code == 200
    data: dict[str, Any] = {}
    _form_data(page.context["adminform"].form, data)
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        _form_data(formset.management_form, data)
        for form in formset.forms:
            _form_data(form, data)
    data.update(changes)
    return client.post(url, data)


@pytest.fixture
def policy(roles) -> ApprovalPolicy:
    agents = Group.objects.get(name=SUPPORT_AGENT)
    policy = ApprovalPolicy.objects.create(name="Refunds", action="service.refund", max_amount="20000")
    policy.reviewer_groups.set([agents])
    AuthorityLimit.objects.create(policy=policy, group=agents, max_amount="500")
    return policy


def test_a_policy_change_in_admin_is_audited_with_the_actor_and_the_changed_fields(admin_client, admin_user, policy):
    # given
    managers = Group.objects.get(name=MANAGER)
    url = reverse("admin:approvals_approvalpolicy_change", args=[policy.pk])
    # when: an admin doubles the approvals, adds managers as reviewers and raises the agents' limit
    response = resubmit(
        admin_client,
        url,
        required_approvals="2",
        reviewer_groups=[str(Group.objects.get(name=SUPPORT_AGENT).pk), str(managers.pk)],
        **{"authority_limits-0-max_amount": "750"},
    )
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(verb="policy_changed")
    assert (event.actor_id, event.actor_type, event.target_repr) == (admin_user.pk, "user", "Refunds")
    assert event.target_id == str(policy.pk)
    changes = event.data["changes"]
    assert set(changes) == {"required_approvals", "reviewer_groups", "authority_limits"}
    assert changes["required_approvals"] == {"before": 1, "after": 2}
    assert changes["reviewer_groups"] == {"before": [SUPPORT_AGENT], "after": [MANAGER, SUPPORT_AGENT]}
    assert [limit["max_amount"] for limit in changes["authority_limits"]["after"]] == ["750.00"]
    assert audit_verify_report().problems == []


def test_saving_a_policy_unchanged_records_nothing(admin_client, policy):
    response = resubmit(admin_client, reverse("admin:approvals_approvalpolicy_change", args=[policy.pk]))
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(verb__startswith="policy_").exists()


def test_creating_and_deleting_a_policy_in_admin_are_audited(admin_client, admin_user, policy):
    # when: deleted through the admin's confirmation page
    response = admin_client.post(reverse("admin:approvals_approvalpolicy_delete", args=[policy.pk]), {"post": "yes"})
    # then: the event keeps what was deleted
    assert response.status_code == 302
    assert not ApprovalPolicy.objects.exists()
    event = AuditEvent.objects.get(verb="policy_deleted")
    assert event.actor_id == admin_user.pk
    assert event.data["values"]["max_amount"] == "20000.00"
    assert event.data["values"]["authority_limits"][0]["group"] == SUPPORT_AGENT


def test_bulk_deleting_policies_in_admin_is_audited(admin_client, policy):
    other = ApprovalPolicy.objects.create(name="Discounts", action="service.discount")
    response = admin_client.post(
        reverse("admin:approvals_approvalpolicy_changelist"),
        {"action": "delete_selected", "_selected_action": [policy.pk, other.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert sorted(AuditEvent.objects.filter(verb="policy_deleted").values_list("target_repr", flat=True)) == [
        "Discounts",
        "Refunds",
    ]


def test_adding_a_user_to_a_group_in_admin_is_audited_with_the_admin_as_actor(admin_client, admin_user, make_user):
    # given
    rep = make_user(username="rep9")
    managers = Group.objects.get(name=MANAGER)
    # when
    response = resubmit(admin_client, reverse("admin:auth_user_change", args=[rep.pk]), groups=[str(managers.pk)])
    # then
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(verb="user_groups_changed", target_id=str(rep.pk))
    assert (event.actor_id, event.data, event.target_repr) == (admin_user.pk, {"added": [MANAGER]}, "rep9")
    assert event.target_type == ContentType.objects.get_for_model(rep)


def test_group_membership_changes_from_either_side_are_audited(make_user):
    # given
    agent = make_user(SUPPORT_AGENT, username="agent7")
    managers = Group.objects.get(name=MANAGER)
    joined = AuditEvent.objects.get(verb="user_groups_changed", target_id=str(agent.pk))
    assert (joined.actor_type, joined.data) == ("system", {"added": [SUPPORT_AGENT]})
    # when
    managers.user_set.add(agent)
    agent.groups.remove(Group.objects.get(name=SUPPORT_AGENT))
    agent.groups.clear()
    # then
    changes = list(
        AuditEvent.objects.filter(verb="user_groups_changed", target_id=str(agent.pk))
        .order_by("id")
        .values_list("data", flat=True)
    )
    assert changes == [
        {"added": [SUPPORT_AGENT]},
        {"added": [MANAGER]},
        {"removed": [SUPPORT_AGENT]},
        {"removed": [MANAGER]},
    ]


def test_user_and_group_permission_changes_are_audited(make_user):
    user = make_user(username="perm1")
    group = Group.objects.create(name="Auditors")
    perm = Permission.objects.get(codename="view_auditevent")
    user.user_permissions.add(perm)
    group.permissions.add(perm)
    group.permissions.remove(perm)
    verbs = list(
        AuditEvent.objects.filter(verb__in=["user_permissions_changed", "group_permissions_changed"])
        .filter(target_repr__in=["perm1", "Auditors"])
        .order_by("id")
        .values_list("verb", "target_repr", "data")
    )
    assert verbs == [
        ("user_permissions_changed", "perm1", {"added": ["approvals.view_auditevent"]}),
        ("group_permissions_changed", "Auditors", {"added": ["approvals.view_auditevent"]}),
        ("group_permissions_changed", "Auditors", {"removed": ["approvals.view_auditevent"]}),
    ]


def test_a_group_permission_change_in_admin_names_the_admin(admin_client, admin_user):
    group = Group.objects.create(name="Auditors")
    perm = Permission.objects.get(codename="view_auditevent")
    response = resubmit(admin_client, reverse("admin:auth_group_change", args=[group.pk]), permissions=[str(perm.pk)])
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="group_permissions_changed", target_id=str(group.pk))
    assert (event.actor_id, event.data) == (admin_user.pk, {"added": ["approvals.view_auditevent"]})


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DEBUG": False, "HITL_CRM_AUDIT_KEY": ""}, ["approvals.W010"]),
        ({"DEBUG": True, "HITL_CRM_AUDIT_KEY": ""}, []),
        ({"DEBUG": False, "HITL_CRM_AUDIT_KEY": "k" * 40}, []),
        ({"DEBUG": False, "HITL_CRM_AUDIT_KEY": "short"}, ["approvals.E011"]),
        ({"HITL_CRM_AUDIT_KEY": "k" * 40, "HITL_CRM_AUDIT_ANCHOR_EMAILS": "ops@example.com, nope"}, ["approvals.E012"]),
    ],
)
def test_the_audit_key_and_anchor_recipients_are_checked(settings, overrides, expected):
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert sorted(m.id for m in check_audit_settings(None)) == expected


def test_the_audit_check_is_registered():
    from django.core.checks import registry

    assert check_audit_settings in registry.registry.get_checks()


def test_check_deploy_warns_when_production_has_no_audit_key():
    from tests.test_settings import PRODUCTION_ENV, manage

    # given: production settings (DEBUG off) without HITL_CRM_AUDIT_KEY
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "HITL_CRM_AUDIT_KEY"}
    # when
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    # then
    assert result.returncode != 0
    assert "approvals.W010" in result.stderr
    assert "approvals.W010" not in manage("check", "--deploy", env=PRODUCTION_ENV).stderr


def test_auditing_a_permission_set_costs_the_same_for_few_or_many_permissions(db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    permissions = list(Permission.objects.order_by("pk")[:40])

    def queries_to_grant(count: int) -> int:
        group = Group.objects.create(name=f"Grant {count}")
        with CaptureQueriesContext(connection) as captured:
            group.permissions.set(permissions[:count])
        return len(captured)

    # per change: the current set, the through-table insert, the permissions joined with their
    # content types (one query), the chain head and the event insert; the first call also warms
    # the content-type cache for the event's target, so it runs first
    assert queries_to_grant(40) == queries_to_grant(2)
