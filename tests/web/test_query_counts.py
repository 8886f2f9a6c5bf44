"""The shell's list pages cost the same number of queries for N and N+1 rows (no N+1 in a template)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.test import override_settings

from hitl_crm.contacts.services import activity_record
from tests.factories import AccountFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _activity(manager) -> None:
    """A contact at an account with one logged call: the dashboard's feed shows contact and actor."""
    contact = ContactFactory(account=AccountFactory())
    activity_record(contact=contact, kind="call", summary=f"Called {contact.first_name}", actor=manager)


def test_the_dashboard_costs_the_same_queries_for_n_and_n_plus_one_activities(
    client, manager, django_assert_num_queries
):
    # given: three contacts with an activity each, seen by a manager (every panel is visible)
    for _ in range(3):
        _activity(manager)
    client.force_login(manager)
    client.get("/")  # warm the content-type and permission caches

    # when / then (20): session, user, user permissions, group permissions, "mine to do today" (the first
    # requests waiting for the manager's decision, the counts of their open cases, their hot leads, their
    # campaigns), the approvals badge, the lead, case and campaign figures (one aggregate each), contact /
    # account / VIP-account / 30-day-activity / consented counts, the 30-day activity chart, the user's groups
    # for the top bar, and the recent-activity feed with contact and actor joined — the same for one more
    # activity
    with django_assert_num_queries(20):
        client.get("/")
    _activity(manager)
    with django_assert_num_queries(20):
        response = client.get("/")
    assert len(response.context["recent"]) == 4


def _send(connection, subject: str) -> None:
    mail.EmailMessage(subject, "It shipped.", "desk@shop.example", ["c@d.example"], connection=connection).send()


def test_the_outbox_costs_the_same_queries_for_n_and_n_plus_one_messages(
    client, manager, tmp_path, django_assert_num_queries
):
    with override_settings(EMAIL_BACKEND="hitl_crm.delivery.EmlFileBackend", EMAIL_FILE_PATH=tmp_path):
        # given: three messages written by the file backend
        connection = get_connection("hitl_crm.delivery.EmlFileBackend")
        for i in range(3):
            _send(connection, f"Order {i} shipped")
        client.force_login(manager)
        client.get("/outbox/")

        # when / then (5): session, user, user permissions, group permissions, the user's groups for the top
        # bar — mail is read from files, not from the database
        with django_assert_num_queries(5):
            client.get("/outbox/")
        _send(connection, "Order 3 shipped")
        with django_assert_num_queries(5):
            html = client.get("/outbox/").content.decode()
    assert "Order 3 shipped" in html
    assert "Order 0 shipped" in html
