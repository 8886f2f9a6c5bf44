import pytest
from django.core import mail
from django.test import override_settings

from hitl_crm.contacts.services import activity_record
from tests.factories import AccountFactory, ActivityFactory, ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep_client(client, sales_rep):
    client.force_login(sales_rep)
    return client


def test_pages_need_a_login(client):
    response = client.get("/contacts/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/contacts/")


def test_login_page_signs_in_and_lands_on_the_dashboard(client, sales_rep):
    page = client.get("/login/")
    assert b"Sign in" in page.content
    response = client.post("/login/", {"username": "rep", "password": "pw-for-tests"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"Good to see you" in response.content


def test_wrong_password_says_so(client, sales_rep):
    response = client.post("/login/", {"username": "rep", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logout_is_a_post_and_ends_the_session(rep_client):
    rep_client.get("/logout/")  # a link or a prefetch cannot sign anyone out
    assert rep_client.get("/").status_code == 200
    rep_client.post("/logout/")
    response = rep_client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_dashboard_shows_real_counts(rep_client):
    AccountFactory(tier="vip")
    ContactFactory.create_batch(3)
    response = rep_client.get("/")
    stats = response.context["stats"]
    assert stats["contacts"] == 3
    assert stats["vip_accounts"] == 1
    assert stats["accounts"] == 4
    assert "Customer activity, last 30 days" in response.content.decode()


def test_dashboard_empty_state_says_what_to_do_next(rep_client):
    html = rep_client.get("/").content.decode()
    assert "No customers yet" in html
    assert "seed_demo" in html


def test_dashboard_activity_chart_counts_todays_activity(rep_client):
    contact = ContactFactory()
    activity_record(contact=contact, kind="call", summary="Hello")
    response = rep_client.get("/")
    series = response.context["activity_series"]
    assert len(series) == 30
    assert series[-1][1] == 1
    assert "<svg" in response.content.decode()


def test_navigation_shows_every_section_and_what_is_not_installed(rep_client):
    html = rep_client.get("/").content.decode()
    for label in ("Dashboard", "Review queue", "Leads", "Cases", "Campaigns", "Contacts"):
        assert label in html
    assert 'href="/contacts/"' in html


def test_contact_search_matches_name_email_and_company(rep_client):
    ContactFactory(first_name="Ingrid", last_name="Larsen", account=AccountFactory(name="Fjord Adventure"))
    ContactFactory(first_name="Omar", last_name="Patel")
    for query in ("ingrid", "LARSEN", "fjord adv"):
        page = rep_client.get("/contacts/", {"q": query}).context["page"]
        assert [c.first_name for c in page.object_list] == ["Ingrid"], query


def test_htmx_search_returns_only_the_results_fragment(rep_client):
    ContactFactory(first_name="Ingrid")
    response = rep_client.get("/contacts/", {"q": "ingrid"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="contact-results">')
    assert "<html" not in html
    assert "Ingrid" in html
    assert response["Vary"].count("HX-Request") == 1


def test_no_match_says_how_to_recover(rep_client):
    ContactFactory(first_name="Ingrid")
    html = rep_client.get("/contacts/", {"q": "zzzz"}).content.decode()
    assert "No contact matches" in html


def test_contacts_paginate(rep_client):
    ContactFactory.create_batch(30)
    first = rep_client.get("/contacts/").context["page"]
    second = rep_client.get("/contacts/", {"after": first.next_cursor}).context["page"]
    assert len(first.object_list) == 25
    assert len(second.object_list) == 5
    assert not second.has_next


@pytest.mark.parametrize("n", [5, 25])
def test_contact_list_queries_do_not_grow_with_rows(rep_client, n, django_assert_num_queries):
    for _ in range(n):
        ContactFactory(account=AccountFactory())
    rep_client.get("/contacts/")  # warm session and permission caches
    # session, user, user perms, group perms, count, page (account joined), groups for the top bar
    with django_assert_num_queries(7):
        rep_client.get("/contacts/")


def test_contact_detail_shows_the_timeline_newest_first(rep_client):
    contact = ContactFactory()
    activity_record(contact=contact, kind="call", summary="First call")
    activity_record(contact=contact, kind="meeting", summary="Then a meeting")
    html = rep_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert html.index("Then a meeting") < html.index("First call")


def test_contact_detail_loads_older_activity_in_place(rep_client):
    contact = ContactFactory()
    ActivityFactory.create_batch(35, contact=contact)
    first = rep_client.get(f"/contacts/{contact.pk}/")
    assert "Older activity" in first.content.decode()
    more = rep_client.get(f"/contacts/{contact.pk}/", {"page": 2}, HTTP_HX_REQUEST="true")
    assert more.content.decode().lstrip().startswith('<div id="timeline">')
    assert more.content.decode().count("<li>") == 5
    assert "Older activity" not in more.content.decode()


def test_customer_text_is_escaped(rep_client):
    contact = ContactFactory(first_name="<script>alert(1)</script>")
    html = rep_client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_user_without_role_gets_the_friendly_403(client, nobody):
    client.force_login(nobody)
    response = client.get("/contacts/")
    assert response.status_code == 403
    assert "Ask a manager or an admin" in response.content.decode()


def test_missing_pages_get_the_friendly_404(rep_client):
    response = rep_client.get("/contacts/999999/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_server_errors_render_the_500_page_without_leaking_details(client, sales_rep):
    from hitl_crm.web.views import error_500

    response = error_500(None)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_every_page_sends_a_csp_without_inline_scripts(rep_client):
    response = rep_client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    html = response.content.decode()
    # every script tag loads a file; none carries code
    import re

    for tag in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S):
        assert tag.strip() == ""


def test_htmx_and_csrf_header_are_wired(rep_client):
    html = rep_client.get("/").content.decode()
    assert "/static/django_htmx/htmx-2" in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_outbox_lists_mail_written_by_the_file_backend(client, manager, tmp_path):
    from django.core.mail import get_connection

    with override_settings(EMAIL_BACKEND="hitl_crm.delivery.EmlFileBackend", EMAIL_FILE_PATH=tmp_path):
        connection = get_connection("hitl_crm.delivery.EmlFileBackend")
        mail.EmailMessage("Your order", "It shipped.", "a@b.example", ["c@d.example"], connection=connection).send()
        client.force_login(manager)
        listing = client.get("/outbox/").content.decode()
        assert "Your order" in listing
        name = next(tmp_path.glob("*.eml")).stem
        detail = client.get(f"/outbox/{name}/").content.decode()
        assert "It shipped." in detail
        assert client.get("/outbox/..%2Fsecrets/").status_code == 404


def test_outside_staff_the_outbox_shows_none_of_other_peoples_mail(rep_client, tmp_path):
    # given: a message the rep did not send
    (tmp_path / "one.eml").write_bytes(b"Subject: Private offer\r\nTo: c@d.example\r\n\r\nHello\r\n")
    with override_settings(EMAIL_BACKEND="hitl_crm.delivery.EmlFileBackend", EMAIL_FILE_PATH=tmp_path):
        # when
        listing = rep_client.get("/outbox/")
        message = rep_client.get("/outbox/one/")
    # then: the rep's outbox is their own sent mail only (tests/web/test_outbox_sent_by.py)
    assert listing.status_code == 200
    assert b"Private offer" not in listing.content
    assert message.status_code == 404
    assert b"Private offer" not in message.content


def test_healthz_answers_without_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_contact_page_shows_churn_badges_from_the_marketing_app(client, marketer):
    from marketing.models import ContactScore

    contact = ContactFactory()
    ContactScore.objects.create(
        contact=contact,
        kind="churn",
        value=0.82,
        factors=[{"feature": "No purchase in 90 days", "effect": 0.9}],
        model_version=1,
    )
    client.force_login(marketer)
    html = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Churn risk: high 0.82" in html
    assert "No purchase in 90 days (raises it)" in html
