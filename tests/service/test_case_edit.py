"""Editing a case on its page: status, priority, owner ("Assign to me") and tags, with validation
next to the field and the audit trail; the inbox's owner filter and tags; statuses in people's words."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.models import ApprovalRequest, AuditEvent
from service.models import Case, RefundRequest
from service.routing import ISSUE_REFUND
from service.services import case_update
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.service.urls_for_tests")]

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "case-head"}


def _updates(case: Case) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(verb="service.case_updated", target_id=str(case.pk)).order_by("id"))


def _edit(case: Case, **fields) -> dict[str, str]:
    data = {"status": case.status, "priority": case.priority, "owner": case.owner_id or "", "tags": ""}
    data.update(fields)
    return data


# --- the edit panel --------------------------------------------------------------------------------


def test_an_agent_edits_status_priority_owner_and_tags_without_javascript(client, support_agent, manager, make_case):
    case = make_case(subject="Zip broke")
    client.force_login(support_agent)

    # the panel opens as a page of its own (a plain link) with the case's values filled in
    panel = client.get(f"/service/cases/{case.pk}/edit/")
    assert panel.status_code == 200
    body = panel.content.decode()
    assert 'id="case-edit-form"' in body
    assert "<html" in body

    response = client.post(
        f"/service/cases/{case.pk}/edit/",
        _edit(case, status="pending_customer", priority="high", owner=manager.pk, tags=" Warranty, VIP ,vip"),
        follow=True,
    )

    assert response.redirect_chain == [(case.get_absolute_url(), 302)]
    case.refresh_from_db()
    assert (case.status, case.priority, case.owner, case.tags) == (
        "pending_customer",
        "high",
        manager,
        ["warranty", "vip"],
    )
    page = response.content.decode()
    assert "Saved. Status: Pending customer · Priority: High · Owner: " in page
    assert '<span class="pill pill-tag">warranty</span>' in page
    (event,) = _updates(case)
    assert event.actor_id == support_agent.pk
    assert event.data["before"] == {"status": "open", "priority": "normal", "owner": None, "tags": []}
    assert event.data["after"] == {
        "status": "pending_customer",
        "priority": "high",
        "owner": manager.pk,
        "tags": ["warranty", "vip"],
    }


def test_with_htmx_the_edit_swaps_only_the_case_header(client, support_agent, make_case):
    case = make_case()
    client.force_login(support_agent)

    panel = client.get(f"/service/cases/{case.pk}/edit/", **HTMX).content.decode()
    assert "<html" not in panel
    assert panel.lstrip().startswith('<div id="case-head"')
    assert f'hx-post="/service/cases/{case.pk}/edit/"' in panel

    saved = client.post(f"/service/cases/{case.pk}/edit/", _edit(case, status="resolved", tags="refund"), **HTMX)
    body = saved.content.decode()
    assert saved.status_code == 200
    assert "<html" not in body
    assert "Saved. Status: Resolved · Tags: refund." in body
    assert 'id="case-edit-form"' not in body  # back to the header, the form closed
    assert '<span class="pill pill-case-resolved" id="case-status">Resolved</span>' in body

    assert saved["HX-Push-Url"] == case.get_absolute_url()  # the panel's own URL gives way to the case's
    # Back to the panel's URL with no cached snapshot (or signing in again): the whole page, panel open
    restored = client.get(f"/service/cases/{case.pk}/edit/", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "<html" in restored.content.decode()
    assert 'id="case-edit-form"' in restored.content.decode()

    cancel = client.get(case.get_absolute_url(), **HTMX).content.decode()
    assert cancel.lstrip().startswith('<div id="case-head"')
    assert "Conversation" not in cancel


def test_an_owner_who_cannot_work_cases_is_refused_next_to_the_owner_field(client, support_agent, sales_rep, make_case):
    case = make_case()
    client.force_login(support_agent)

    plain = client.post(f"/service/cases/{case.pk}/edit/", _edit(case, owner=sales_rep.pk, status="closed"))
    htmx = client.post(f"/service/cases/{case.pk}/edit/", _edit(case, owner=sales_rep.pk), **HTMX)
    unknown = client.post(f"/service/cases/{case.pk}/edit/", _edit(case, owner="999999"), **HTMX)

    assert plain.status_code == 400
    assert htmx.status_code == 200  # HTMX swaps only a 2xx answer: the panel comes back with the message
    for response in (plain, htmx):
        body = response.content.decode()
        assert f'id="id_owner_error">{sales_rep.get_full_name()} cannot work cases, so cannot own one' in body
        assert 'id="case-edit-form"' in body
    assert 'id="id_owner_error">Pick a person from the list.' in unknown.content.decode()
    case.refresh_from_db()
    assert (case.owner, case.status) == (None, "open")
    assert _updates(case) == []


def test_an_invalid_tag_is_named_next_to_the_tags_field_and_nothing_is_saved(client, support_agent, make_case):
    case = make_case()
    client.force_login(support_agent)

    response = client.post(f"/service/cases/{case.pk}/edit/", _edit(case, priority="urgent", tags="vip, b@d!"), **HTMX)

    body = response.content.decode()
    assert 'id="id_tags_error">The tag “b@d!” may hold only letters, digits, spaces, - and _.' in body
    assert 'value="vip, b@d!"' in body  # what the person typed stays in the field
    case.refresh_from_db()
    assert (case.priority, case.tags) == ("normal", [])


def test_the_owner_list_offers_only_people_who_may_work_cases(
    client, support_agent, manager, sales_rep, marketer, make_case
):
    case = make_case()
    client.force_login(support_agent)

    body = client.get(f"/service/cases/{case.pk}/edit/", **HTMX).content.decode()

    select = body[body.index('<select name="owner"') : body.index("</select>", body.index('<select name="owner"'))]
    offered = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select)
    assert offered[0] == ("", "Unassigned")
    assert {int(pk) for pk, _ in offered[1:]} == {support_agent.pk, manager.pk}
    assert (str(manager.pk), manager.get_full_name()) in offered


def test_assign_to_me_makes_the_agent_the_owner_and_is_audited(client, support_agent, manager, make_case):
    case = make_case(owner=manager)
    client.force_login(support_agent)
    assert "Assign to me" in client.get(case.get_absolute_url()).content.decode()

    response = client.post(f"/service/cases/{case.pk}/assign-to-me/", **HTMX)

    body = response.content.decode()
    assert "Assigned to you." in body
    assert "Assign to me" not in body  # it is theirs now
    case.refresh_from_db()
    assert case.owner == support_agent
    (event,) = _updates(case)
    assert (event.data["before"], event.data["after"]) == ({"owner": manager.pk}, {"owner": support_agent.pk})
    # without JavaScript: a plain POST and back to the case
    plain = client.post(f"/service/cases/{case.pk}/assign-to-me/")
    assert plain.status_code == 302
    assert plain["Location"] == case.get_absolute_url()


def test_a_sales_rep_sees_the_case_but_cannot_edit_or_take_it(client, sales_rep, make_case):
    case = make_case(contact=ContactFactory(owner=sales_rep))
    client.force_login(sales_rep)

    page = client.get(case.get_absolute_url()).content.decode()
    assert "Edit case" not in page
    assert "Assign to me" not in page
    assert client.get(f"/service/cases/{case.pk}/edit/").status_code == 403
    assert client.post(f"/service/cases/{case.pk}/edit/", _edit(case, status="closed")).status_code == 403
    assert client.post(f"/service/cases/{case.pk}/assign-to-me/").status_code == 403
    case.refresh_from_db()
    assert (case.status, case.owner) == ("open", None)


# --- the service -----------------------------------------------------------------------------------


def test_case_update_refuses_an_owner_who_cannot_work_cases_and_normalises_tags(support_agent, sales_rep, make_case):
    case = make_case()

    with pytest.raises(ValidationError) as refused:
        case_update(case=case, actor=support_agent, data={"owner": sales_rep})
    assert "owner" in refused.value.message_dict
    with pytest.raises(ValidationError) as bad_tags:
        case_update(case=case, actor=support_agent, data={"tags": ["ok", "x" * 31]})
    assert "longer than 30" in bad_tags.value.message_dict["tags"][0]

    case_update(case=case, actor=support_agent, data={"tags": ["Gift ", "gift", "School"]})
    case.refresh_from_db()
    assert case.tags == ["gift", "school"]
    (event,) = _updates(case)
    assert event.data == {"before": {"tags": []}, "after": {"tags": ["gift", "school"]}}


# --- the inbox ---------------------------------------------------------------------------------------


def test_the_inbox_filters_mine_unassigned_everyone_and_shows_tags(client, support_agent, manager, make_case):
    mine = make_case(subject="Mine to do", owner=support_agent, tags=["warranty"])
    theirs = make_case(subject="Manager has it", owner=manager)
    nobody = make_case(subject="Nobody has it", status="pending_customer")
    client.force_login(support_agent)

    def subjects(owner: str) -> set[str]:
        page = client.get("/service/", {"owner": owner})
        return {c.subject for c in page.context["page"].object_list}

    assert subjects("mine") == {mine.subject}
    assert subjects("none") == {nobody.subject}
    assert subjects("") == {mine.subject, theirs.subject, nobody.subject}
    page = client.get("/service/").content.decode()
    assert '<option value="mine">Mine</option>' in page
    assert '<span class="pill pill-tag">warranty</span>' in page
    assert '<span class="pill pill-case-pending_customer">Pending customer</span>' in page


# --- words -------------------------------------------------------------------------------------------


def test_the_case_page_says_refunded_not_executed(client, support_agent, make_case):
    case = make_case()
    refund = RefundRequest.objects.create(case=case, amount=Decimal("40.00"), recommendation="approve", status="issued")
    now = timezone.now()
    ApprovalRequest.objects.create(
        action=ISSUE_REFUND,
        content_type=ContentType.objects.get_for_model(RefundRequest),
        object_id=str(refund.pk),
        proposal={},
        final={},
        payload_hash="0" * 64,
        status="executed",
        due_at=now,
        sla_due_at=now,
    )
    client.force_login(support_agent)

    page = client.get(case.get_absolute_url()).content.decode()

    assert "(refunded)" in page
    assert "(executed)" not in page


# --- the API -----------------------------------------------------------------------------------------


def test_the_api_sets_owner_and_tags_and_names_the_field_it_refuses(support_agent, manager, sales_rep, make_case):
    from rest_framework.test import APIClient

    case = make_case()
    api = APIClient()
    api.force_authenticate(support_agent)
    url = f"/api/v1/cases/{case.pk}/"

    ok = api.patch(url, {"owner": manager.username, "tags": ["School", "vip", "school"]}, format="json")
    bad_tag = api.patch(url, {"tags": ["fine", "no;semicolons"]}, format="json")
    bad_owner = api.patch(url, {"owner": sales_rep.username}, format="json")

    assert ok.status_code == 200
    assert (ok.json()["owner"], ok.json()["tags"]) == ("manager", ["school", "vip"])
    assert bad_tag.status_code == 400
    assert [e["field"] for e in bad_tag.json()["errors"]] == ["tags"]
    assert "no;semicolons" in bad_tag.json()["errors"][0]["message"]
    assert bad_owner.status_code == 400
    assert [e["field"] for e in bad_owner.json()["errors"]] == ["owner"]
    assert api.get(url).json()["tags"] == ["school", "vip"]
