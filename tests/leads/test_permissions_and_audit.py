"""Every leads write checks who acts (403 when they may not) and audits what it changed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from approvals.models import AuditEvent
from leads import services
from leads.models import Lead, LeadEvent, LeadImport, ScoringModel, ScoringRule
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, ScoringRuleFactory

pytestmark = pytest.mark.django_db

CSV = b"Email,Company\na@x.example,A\n"
RULE = {"name": "Referral", "target": "field", "path": "source", "operator": "eq", "value": "Referral", "points": 10}


def events_for(obj, verb: str) -> list[AuditEvent]:
    ct = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return list(AuditEvent.objects.filter(verb=verb, target_type=ct, target_id=str(obj.pk)).order_by("id"))


def _writes(lead: Lead, rule: ScoringRule, imp: LeadImport, model: ScoringModel) -> dict:
    return {
        "lead_create": lambda actor: services.lead_create(actor=actor, email="new@x.example"),
        "lead_update": lambda actor: services.lead_update(lead=lead, data={"status": "won"}, actor=actor),
        "lead_event_record": lambda actor: services.lead_event_record(lead=lead, kind="site_visit", actor=actor),
        "lead_score_override": lambda actor: services.lead_score_override(
            lead=lead, score=90, reason="Signed a letter of intent", actor=actor
        ),
        "lead_score_override_clear": lambda actor: services.lead_score_override_clear(lead=lead, actor=actor),
        "scoring_rule_save (new)": lambda actor: services.scoring_rule_save(data=RULE, actor=actor),
        "scoring_rule_save (change)": lambda actor: services.scoring_rule_save(
            rule=rule, data={"points": 50}, actor=actor
        ),
        "scoring_rule_delete": lambda actor: services.scoring_rule_delete(rule=rule, actor=actor),
        "lead_import_create": lambda actor: services.lead_import_create(file_name="x.csv", data=CSV, actor=actor),
        "lead_import_start": lambda actor: services.lead_import_start(
            lead_import=imp, mapping=imp.mapping, actor=actor, run=False
        ),
        "lead_followup_request_draft": lambda actor: services.lead_followup_request_draft(lead=lead, actor=actor),
        "lead_followup_submit": lambda actor: services.lead_followup_submit(
            lead=lead, actor=actor, subject="Checking in", body="Any news?"
        ),
        # a system entry point: without an actor it is the drafting task; a person needs the permission
        "lead_followup_draft (a person asks)": lambda actor: services.lead_followup_draft(lead=lead, actor=actor),
        "scoring_model_activate": lambda actor: services.scoring_model_activate(model=model, actor=actor),
        "scoring_model_deactivate": lambda actor: services.scoring_model_deactivate(actor=actor),
    }


WRITES = list(_writes(None, None, None, None))  # type: ignore[arg-type]


@pytest.fixture
def world(manager):
    lead = LeadFactory(email="dana@northpeak.example", override_score=40, override_reason="Met at the expo")
    rule = ScoringRuleFactory(name="Employees", path="employees", operator="gte", value=200, points=15)
    imp = services.lead_import_create(file_name="x.csv", data=CSV, actor=manager)
    model = ScoringModel.objects.create(version=1, params={}, metrics={})
    return _writes(lead, rule, imp, model)


def _counts() -> tuple[int, ...]:
    return (
        Lead.objects.count(),
        LeadEvent.objects.count(),
        ScoringRule.objects.count(),
        LeadImport.objects.count(),
        AuditEvent.objects.count(),
        Lead.objects.filter(status="won").count(),
        Lead.objects.filter(override_score__isnull=True).count(),
        ScoringRule.objects.filter(points=50).count(),
        LeadImport.objects.filter(status="queued").count(),
    )


@pytest.mark.parametrize("write", [w for w in WRITES if w != "lead_followup_draft (a person asks)"])
def test_a_write_without_an_actor_is_refused_and_changes_nothing(world, write):
    # given
    before = _counts()

    # when / then
    with pytest.raises(PermissionDenied):
        world[write](None)
    assert _counts() == before


@pytest.mark.parametrize("write", WRITES)
def test_a_write_by_someone_without_the_permission_is_refused_and_changes_nothing(world, write, nobody, marketer):
    # given: a user with no role, and a marketer (who may read leads, nothing more)
    before = _counts()

    # when / then
    for actor in (nobody, marketer):
        with pytest.raises(PermissionDenied):
            world[write](actor)
    assert _counts() == before


def test_an_inactive_user_is_refused_even_with_the_permission(manager):
    manager.is_active = False
    manager.save()

    with pytest.raises(PermissionDenied, match="You may not add leads"):
        services.lead_create(actor=manager, email="new@x.example")


# --- audit ----------------------------------------------------------------------------------------


def test_status_and_owner_changes_are_audited_with_who_and_before_after(sales_rep, manager):
    # given
    lead = services.lead_create(actor=sales_rep, email="dana@northpeak.example", owner=sales_rep)

    # when
    services.lead_update(lead=lead, data={"status": "qualified", "owner": manager}, actor=manager)
    services.lead_update(lead=lead, data={"company": "Northpeak"}, actor=manager)  # neither status nor owner

    # then
    [created] = events_for(lead, "lead.created")
    assert created.actor == sales_rep
    assert created.data["after"] == {"status": "new", "owner": {"id": sales_rep.pk, "username": "rep"}}
    [status] = events_for(lead, "lead.status_changed")
    assert (status.actor, status.data) == (
        manager,
        {"before": {"status": "new"}, "after": {"status": "qualified"}},
    )
    [owner] = events_for(lead, "lead.owner_changed")
    assert owner.actor == manager
    assert owner.data == {
        "before": {"owner": {"id": sales_rep.pk, "username": "rep"}},
        "after": {"owner": {"id": manager.pk, "username": "manager"}},
    }


def test_score_overrides_are_audited_with_the_score_before_and_after(sales_rep):
    # given
    lead = LeadFactory(score=30, computed_score=30, tier="C")

    # when
    services.lead_score_override(lead=lead, score=85, reason="Asked for a quote", actor=sales_rep)
    services.lead_score_override_clear(lead=lead, actor=sales_rep, reason="Back to the model")

    # then
    [override] = events_for(lead, "lead.score_overridden")
    assert override.actor == sales_rep
    assert override.data["before"]["score"] == 30
    assert override.data["after"] == {"score": 85, "tier": "A", "override_score": 85}
    assert override.data["reason"] == "Asked for a quote"
    [cleared] = events_for(lead, "lead.score_override_cleared")
    assert cleared.data["before"]["override_score"] == 85
    assert cleared.data["after"]["override_score"] is None
    assert cleared.data["after"]["score"] == 30


def test_scoring_rule_changes_are_audited(manager):
    # when
    rule = services.scoring_rule_save(data=RULE, actor=manager)
    services.scoring_rule_save(rule=rule, data={"points": 25}, actor=manager)
    services.scoring_rule_save(rule=rule, data={"points": 25}, actor=manager)  # no change: no event
    rule_pk = rule.pk
    services.scoring_rule_delete(rule=rule, actor=manager)

    # then
    rule.pk = rule_pk
    [created] = events_for(rule, "scoring_rule.created")
    assert created.actor == manager
    assert created.data["before"] is None
    assert created.data["after"]["points"] == 10
    [changed] = events_for(rule, "scoring_rule.changed")
    assert (changed.data["before"]["points"], changed.data["after"]["points"]) == (10, 25)
    [deleted] = events_for(rule, "scoring_rule.deleted")
    assert deleted.actor == manager
    assert deleted.data == {"before": {**changed.data["after"]}, "after": None}
    assert not ScoringRule.objects.filter(pk=rule_pk).exists()


def test_starting_an_import_is_audited(manager):
    imp = services.lead_import_create(file_name="x.csv", data=CSV, actor=manager)

    services.lead_import_start(lead_import=imp, mapping=imp.mapping, actor=manager, update_existing=True, run=False)

    [started] = events_for(imp, "lead_import.started")
    assert started.actor == manager
    assert started.data["before"] == {"status": "uploaded"}
    assert started.data["after"]["status"] == "queued"
    assert started.data["after"]["update_existing"] is True


# --- the API and the pages answer 403 -------------------------------------------------------------


@pytest.fixture
def api():
    return APIClient()


def test_the_api_refuses_writes_with_403(api, marketer, sales_rep):
    # given: a marketer may read leads but not change them
    lead = LeadFactory(owner=sales_rep)
    api.force_authenticate(marketer)

    # when
    responses = [
        api.patch(reverse("api:lead-detail", args=[lead.pk]), {"status": "won"}, format="json"),
        api.post(reverse("api:lead-list"), {"email": "new@x.example"}, format="json"),
        api.post(reverse("api:lead-override", args=[lead.pk]), {"score": 90, "reason": "Keen"}, format="json"),
        api.post(reverse("api:lead-event-list"), {"lead": lead.pk, "kind": "site_visit"}, format="json"),
        api.post(
            reverse("api:lead-import-list"),
            {"file": SimpleUploadedFile("x.csv", CSV, content_type="text/csv")},
            format="multipart",
        ),
    ]

    # then
    assert [r.status_code for r in responses] == [403] * 5
    assert Lead.objects.get(pk=lead.pk).status == "new"
    assert not AuditEvent.objects.filter(verb__startswith="lead").exists()
    assert not LeadImport.objects.exists()


def test_the_api_audits_the_change_it_makes(api, sales_rep):
    lead = LeadFactory(owner=sales_rep)
    api.force_authenticate(sales_rep)

    assert api.patch(reverse("api:lead-detail", args=[lead.pk]), {"status": "won"}, format="json").status_code == 200

    [event] = events_for(lead, "lead.status_changed")
    assert event.actor == sales_rep
    assert event.data == {"before": {"status": "new"}, "after": {"status": "won"}}


def test_asking_for_a_follow_up_without_the_permission_is_403_on_the_page(client, marketer, sales_rep):
    # given: the marketer can open the lead page but may not follow the lead up
    lead = LeadFactory(owner=sales_rep)
    client.force_login(marketer)
    assert client.get(lead.get_absolute_url()).status_code == 200

    # when
    response = client.post(reverse("leads:followup", args=[lead.pk]))

    # then
    assert response.status_code == 403


def test_uploading_an_import_without_the_permission_is_403_on_the_page(client, roles):
    # given: someone who may look at imports but not start one
    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_leadimport"))
    client.force_login(viewer)
    assert client.get(reverse("leads:imports")).status_code == 200

    # when
    upload = SimpleUploadedFile("x.csv", CSV, content_type="text/csv")
    response = client.post(reverse("leads:imports"), {"file": upload})

    # then
    assert response.status_code == 403
    assert not LeadImport.objects.exists()


def test_toggling_a_rule_on_the_scoring_page_is_audited_for_the_manager(client, manager):
    rule = ScoringRuleFactory(active=True)
    client.force_login(manager)

    assert client.post(reverse("leads:rule_toggle", args=[rule.pk])).status_code == 302

    [event] = events_for(rule, "scoring_rule.changed")
    assert event.actor == manager
    assert (event.data["before"]["active"], event.data["after"]["active"]) == (True, False)


def test_changing_a_lead_in_django_admin_is_audited(client, manager, sales_rep):
    # given: the lead's admin form as it is, with a new status and owner
    lead = LeadFactory(owner=sales_rep, email="dana@northpeak.example", company="Northpeak")
    client.force_login(manager)
    form = client.get(reverse("admin:leads_lead_change", args=[lead.pk])).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({"status": "qualified", "owner": manager.pk, "attributes": "{}"})

    # when
    response = client.post(reverse("admin:leads_lead_change", args=[lead.pk]), data)

    # then
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    [status] = events_for(lead, "lead.status_changed")
    assert (status.actor, status.data["after"]) == (manager, {"status": "qualified"})
    [owner] = events_for(lead, "lead.owner_changed")
    assert owner.data["after"]["owner"]["username"] == "manager"
