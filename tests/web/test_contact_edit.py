"""The contact page: edit owner, tags and details inline, and log a call, meeting or note."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.contrib.auth.models import Permission

from approvals.models import AuditEvent
from hitl_crm.contacts.models import Activity, Contact
from hitl_crm.contacts.services import activity_record
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def contact():
    return ContactFactory(first_name="Ana", last_name="Lima", title="Buyer", phone="")


@pytest.fixture
def rep_client(client, sales_rep):
    client.force_login(sales_rep)
    return client


def _edit(contact, **changes):
    data = {"owner": "", "tags": "", "title": contact.title, "phone": contact.phone}
    if contact.email_consent:
        data["email_consent"] = "on"
    data.update(changes)
    return data


def _error_after(html: str, field_id: str) -> str:
    """The first field error that follows the input ``field_id`` (errors sit right under their field)."""
    start = html.index(f'id="{field_id}"')
    match = re.search(r'<div class="field-error"[^>]*>([^<]+)</div>', html[start:])
    assert match, f"no error after {field_id}"
    return html_lib.unescape(match.group(1))


def test_the_contact_page_offers_the_edit_panel_and_the_log_form(rep_client, contact):
    html = rep_client.get(contact.get_absolute_url()).content.decode()
    assert f'href="/contacts/{contact.pk}/edit/"' in html
    assert "Log a call, meeting or note" in html
    assert f'href="{contact.account.get_absolute_url()}"' in html  # the company links to its page


def test_without_javascript_the_edit_link_opens_the_page_with_the_form(rep_client, contact):
    response = rep_client.get(f"/contacts/{contact.pk}/edit/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert 'name="tags"' in html
    assert 'name="owner"' in html
    assert 'id="timeline"' in html


def test_with_htmx_the_edit_link_returns_only_the_panel(rep_client, contact):
    html = rep_client.get(f"/contacts/{contact.pk}/edit/", **HTMX).content.decode()
    assert "<html" not in html
    assert html.strip().startswith("{#") is False
    assert 'id="contact-details"' in html
    assert 'name="phone"' in html


def test_a_plain_post_saves_owner_and_tags_then_redirects_to_the_page(rep_client, contact, manager):
    response = rep_client.post(f"/contacts/{contact.pk}/edit/", _edit(contact, owner=manager.pk, tags="VIP, school"))

    assert response.status_code == 302
    assert response["Location"] == contact.get_absolute_url()
    contact.refresh_from_db()
    assert contact.owner == manager
    assert contact.tags == ["vip", "school"]
    page = rep_client.get(response["Location"]).content.decode()
    assert "Saved." in page
    assert '<span class="pill pill-muted">vip</span>' in page
    assert AuditEvent.objects.filter(verb="contact.updated", target_id=str(contact.pk)).count() == 1


def test_a_bad_phone_is_shown_next_to_the_field_and_nothing_is_saved(rep_client, contact):
    response = rep_client.post(f"/contacts/{contact.pk}/edit/", _edit(contact, phone="12", tags="vip", title="Boss"))

    html = response.content.decode()
    assert response.status_code == 422
    assert "'12' is not a valid phone number." in _error_after(html, "contact-phone")
    assert 'value="Boss"' in html  # what the person typed is still there
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"
    assert not AuditEvent.objects.filter(verb="contact.updated").exists()


def test_with_htmx_a_bad_tag_comes_back_in_the_panel_with_its_message(rep_client, contact):
    response = rep_client.post(f"/contacts/{contact.pk}/edit/", _edit(contact, tags="ok, no!"), **HTMX)

    html = response.content.decode()
    # 200: htmx 2 does not swap a 4xx answer, and the person must see the message
    assert response.status_code == 200
    assert "<html" not in html
    assert "“no!” may hold only letters" in _error_after(html, "contact-tags")


def test_with_htmx_a_save_returns_the_details_and_refreshes_the_timeline(rep_client, contact):
    response = rep_client.post(f"/contacts/{contact.pk}/edit/", _edit(contact, title="Head buyer"), **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="contact-details"' in html
    assert "Head buyer" in html
    assert "Saved." in html
    assert 'id="timeline" hx-swap-oob="true"' in html
    assert "Updated title" in html


def test_someone_who_may_only_look_gets_a_403_not_a_500(client, make_user, contact):
    viewer = make_user(username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(viewer)

    page = client.get(contact.get_absolute_url()).content.decode()
    response = client.post(f"/contacts/{contact.pk}/edit/", _edit(contact, title="Hacked"))
    logged = client.post(f"/contacts/{contact.pk}/log/", {"kind": "note", "body": "x"})

    assert "Edit details" not in page
    assert "Log a call" not in page
    assert response.status_code == 403
    assert logged.status_code == 403
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"


def test_an_unsubscribed_contact_says_so_next_to_the_consent_box(rep_client):
    from django.utils import timezone

    contact = ContactFactory(email_consent=False, unsubscribed_at=timezone.now())
    html = rep_client.get(f"/contacts/{contact.pk}/edit/", **HTMX).content.decode()
    assert "Unsubscribed on" in html


def test_logging_a_call_without_javascript_lands_on_the_timeline(rep_client, contact, sales_rep):
    response = rep_client.post(
        f"/contacts/{contact.pk}/log/",
        {"kind": "call", "subject": "Quote for 40 tents", "body": "Wants delivery in May.", "occurred_at": ""},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{contact.get_absolute_url()}#timeline"
    activity = Activity.objects.get(contact=contact, kind="call")
    assert (activity.summary, activity.actor, activity.data["body"]) == (
        "Quote for 40 tents",
        sales_rep,
        "Wants delivery in May.",
    )
    page = rep_client.get(contact.get_absolute_url()).content.decode()
    assert "Call logged." in page
    assert "Wants delivery in May." in page


def test_an_empty_body_is_refused_with_a_message_and_nothing_is_logged(rep_client, contact):
    response = rep_client.post(f"/contacts/{contact.pk}/log/", {"kind": "note", "subject": "Hi", "body": "  "})

    html = response.content.decode()
    assert response.status_code == 422
    assert "an empty entry cannot be logged" in _error_after(html, "log-body")
    assert "<details open>" in html  # the form stays open with what was typed
    assert not Activity.objects.filter(contact=contact, kind="note").exists()


def test_a_date_that_is_not_a_date_is_named_not_a_500(rep_client, contact):
    response = rep_client.post(
        f"/contacts/{contact.pk}/log/", {"kind": "meeting", "body": "Met", "occurred_at": "yesterday-ish"}, **HTMX
    )
    assert response.status_code == 200
    assert "Enter a valid date/time." in _error_after(response.content.decode(), "log-occurred_at")


def test_with_htmx_a_logged_meeting_is_prepended_to_the_timeline(rep_client, contact):
    activity_record(contact=contact, kind="note", summary="Older note")

    response = rep_client.post(
        f"/contacts/{contact.pk}/log/", {"kind": "meeting", "subject": "", "body": "Walked the new store."}, **HTMX
    )

    html = response.content.decode()
    assert "Meeting logged." in html
    assert 'id="timeline" hx-swap-oob="true"' in html
    assert html.index("Walked the new store.") < html.index("Older note")


def test_the_contact_page_costs_the_same_queries_for_n_and_n_plus_one_activities(
    rep_client, contact, sales_rep, django_assert_num_queries
):
    for n in range(3):
        activity_record(contact=contact, kind="call", summary=f"Call {n}", actor=sales_rep)
    rep_client.get(contact.get_absolute_url())  # warm the content-type and permission caches

    # when / then (9): session, user, the contact with its account, the timeline count, the page of
    # activities with their actors, user permissions, group permissions, the contact's owner,
    # the user's groups for the top bar
    with django_assert_num_queries(9):
        rep_client.get(contact.get_absolute_url())
    activity_record(contact=contact, kind="call", summary="One more", actor=sales_rep)
    with django_assert_num_queries(9):
        rep_client.get(contact.get_absolute_url())
