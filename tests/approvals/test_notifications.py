import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from approvals.exceptions import LinkExpired, LinkInvalid
from approvals.notifications import approval_notify_reviewers, review_link_resolve, review_link_token, review_link_url
from tests.factories import ContactFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.approvals.urls_for_tests")]


def test_a_token_names_the_request_and_the_user():
    token = review_link_token(request_id=12, user_id=34)
    assert review_link_resolve(token) == (12, 34)


def test_a_tampered_token_is_invalid():
    token = review_link_token(request_id=12, user_id=34)
    forged = ("x" if token[0] != "x" else "y") + token[1:]  # payload changed, signature kept
    for bad in (forged, token[:-2], "", "nonsense"):
        with pytest.raises(LinkInvalid):
            review_link_resolve(bad)


def test_a_token_expires(settings):
    settings.HITL_CRM_APPROVALS_LINK_MAX_AGE_SECONDS = 3600
    token = review_link_token(request_id=12, user_id=34)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2)), pytest.raises(LinkExpired):
        review_link_resolve(token)
    with pytest.raises(LinkExpired):
        review_link_resolve(token, max_age=-1)


def test_the_link_is_absolute_on_the_configured_site(settings):
    settings.HITL_CRM_SITE_URL = "https://crm.example.com/"
    url = review_link_url(request_id=5, user_id=6)
    assert url.startswith("https://crm.example.com/approvals/r/")
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert review_link_resolve(token) == (5, 6)


def test_each_reviewer_gets_their_own_link_and_excluded_people_none(make_email_request, make_user):
    # given
    a1 = make_user("Support agent", username="a1", email="a1@staff.example")
    a2 = make_user("Support agent", username="a2", email="a2@staff.example")
    owner = make_user("Support agent", username="owner", email="owner@staff.example")
    make_user("Support agent", username="gone", email="gone@staff.example", is_active=False)
    make_user("Sales rep", username="rep", email="rep@staff.example")
    req = make_email_request(ContactFactory(owner=owner), requested_by=a2)
    mail.outbox.clear()
    # when
    sent = approval_notify_reviewers(request_id=req.pk)
    # then: only a1 (a2 asked for it, owner owns the contact, gone is inactive, rep is not routed)
    assert sent == 1
    assert [m.to for m in mail.outbox] == [["a1@staff.example"]]
    token = mail.outbox[0].body.split("/approvals/r/")[1].split("/")[0]
    assert review_link_resolve(token) == (req.pk, a1.pk)


def test_no_email_for_a_request_that_is_no_longer_pending(make_email_request, make_user):
    make_user("Support agent", username="a1", email="a1@staff.example")
    req = make_email_request()
    from approvals.services import approval_cancel

    approval_cancel(request_id=req.pk, actor=None, reason="superseded")
    assert approval_notify_reviewers(request_id=req.pk) == 0
