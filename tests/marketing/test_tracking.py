"""Signed open pixel, click redirect and unsubscribe: real links work, forged ones record nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail, signing

from approvals.services import approval_decide
from hitl_crm.contacts.models import Activity, Contact
from marketing import tokens
from marketing.models import Send, Suppression
from marketing.services import campaign_submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(make_campaign, marketer, colleague, campaign_policy, audience, on_commit):
    """A campaign sent to ten contacts; returns the first contact's send and email."""
    campaign = make_campaign(arms=1)
    req = campaign_submit(campaign=campaign, actor=marketer)
    with on_commit():
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=colleague, verdict="approve")
    send = Send.objects.select_related("contact").get(campaign=campaign, contact=audience[0])
    message = next(m for m in mail.outbox if m.to == [audience[0].email])
    return send, message


def links(message) -> dict[str, str]:
    html = message.alternatives[0][0]
    return {
        "open": re.search(r'<img src="([^"]+)"', html).group(1),
        "click": re.search(r'<a href="(https://crm\.example\.com/marketing/t/c/[^"]+)"', html).group(1),
        "unsubscribe": re.search(r"Unsubscribe: (\S+)", message.body).group(1),
    }


def path(url: str) -> str:
    return urlsplit(url).path


def test_the_open_pixel_records_the_first_open_only(client, sent):
    send, message = sent
    response = client.get(path(links(message)["open"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    send.refresh_from_db()
    first = send.opened_at
    assert first is not None
    client.get(path(links(message)["open"]))
    send.refresh_from_db()
    assert send.opened_at == first


def test_a_click_redirects_to_the_approved_link_and_is_recorded(client, sent):
    send, message = sent
    response = client.get(path(links(message)["click"]))
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://shop.example/tents"
    query = parse_qs(target.query)
    assert query["src"] == ["mail"]  # the link's own parameters survive
    assert tokens.read_token(tokens.CONVERSION, query["hc_ref"][0]) == {"s": send.pk}
    send.refresh_from_db()
    assert send.clicked_at is not None
    assert send.opened_at is not None
    assert Activity.objects.filter(contact=send.contact, kind="site_visit", data__send=send.pk).count() == 1


@pytest.mark.parametrize("kind", ["open", "click", "unsubscribe"])
def test_tampered_tokens_are_404_and_record_nothing(client, sent, kind):
    send, message = sent
    url = path(links(message)[kind])
    token = url.rstrip("/").rsplit("/", 1)[1]
    payload, signature = token.rsplit(":", 1)
    other = Send.objects.exclude(pk=send.pk).first().pk  # someone else's send, under this token's signature
    forged_id = signing.b64_encode(f'{{"s":{other}}}'.encode()).decode() + ":" + signature
    for bad in (
        url.replace(token, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),  # broken signature
        url.replace(token, forged_id),  # payload swapped
        url.replace(token, "not-a-token"),
    ):
        response = client.get(bad) if kind != "unsubscribe" else client.post(bad)
        assert response.status_code == 404, bad
    send.refresh_from_db()
    contact = Contact.objects.get(pk=send.contact_id)
    assert send.opened_at is None
    assert send.clicked_at is None
    assert send.unsubscribed_at is None
    assert contact.email_consent
    assert not Suppression.objects.exists()


def test_a_token_of_one_kind_is_worthless_as_another(client, sent):
    send, _ = sent
    open_token = tokens.make_token(tokens.OPEN, send.pk)
    assert client.get(f"/marketing/t/c/{open_token}/").status_code == 404
    assert client.post(f"/marketing/u/{open_token}/").status_code == 404
    send.refresh_from_db()
    assert send.clicked_at is None
    assert send.unsubscribed_at is None


def test_no_open_redirect_to_links_that_were_not_in_the_approved_email(client, sent):
    send, _ = sent
    # a correctly signed click token for a foreign URL (e.g. a leaked key used to phish) still goes nowhere
    evil = tokens.make_token(tokens.CLICK, send.pk, "https://evil.example/login")
    assert client.get(f"/marketing/t/c/{evil}/").status_code == 404
    send.refresh_from_db()
    assert send.clicked_at is None


def test_the_unsubscribe_page_asks_first_then_unsubscribes(client, sent):
    send, message = sent
    url = path(links(message)["unsubscribe"])
    # a GET (mail scanners prefetch links) only shows the button
    page = client.get(url)
    assert page.status_code == 200
    assert b"confirm-unsubscribe" in page.content
    assert Contact.objects.get(pk=send.contact_id).email_consent is True
    # the button unsubscribes: suppression list, consent withdrawn, timeline entry
    done = client.post(url)
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    contact = Contact.objects.get(pk=send.contact_id)
    assert contact.unsubscribed_at is not None
    assert not contact.email_consent
    assert Suppression.objects.get(email=contact.email).reason == "unsubscribed"
    assert Activity.objects.filter(contact=contact, summary="Unsubscribed from email").exists()
    send.refresh_from_db()
    assert send.unsubscribed_at is not None


def test_one_click_unsubscribe_from_the_mail_client(client, sent):
    send, message = sent
    url = path(message.extra_headers["List-Unsubscribe"].split(",")[0].strip(" <>"))
    # RFC 8058: a POST with List-Unsubscribe=One-Click, no session, no CSRF token
    client.handler.enforce_csrf_checks = True
    response = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert Suppression.objects.get(email=send.contact.email).source == "one-click"
    assert Contact.objects.get(pk=send.contact_id).can_receive_marketing is False


def test_an_unsubscribed_contact_is_left_out_of_the_next_campaign(client, sent, make_campaign, marketer):
    send, message = sent
    client.post(path(links(message)["unsubscribe"]))
    nxt = make_campaign(arms=1, name="Next")
    req = campaign_submit(campaign=nxt, actor=marketer)
    assert req.final["audience_size"] == 9
    assert not Send.objects.filter(campaign=nxt, contact_id=send.contact_id).exists()
