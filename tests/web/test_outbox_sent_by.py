"""The Outbox knows who sent each message: agents see the mail that went out on their word, managers all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.mail import get_connection
from django.test import override_settings

from approvals.execution import approval_execute
from approvals.handlers import NOTIFY_EMAIL
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.services import approval_decide, approval_request_create
from hitl_crm.accounts.roles import SUPPORT_AGENT
from hitl_crm.delivery.models import Delivery
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

FILE_BACKEND = "hitl_crm.delivery.EmlFileBackend"


@pytest.fixture
def outbox_dir(tmp_path):
    with override_settings(EMAIL_BACKEND=FILE_BACKEND, EMAIL_FILE_PATH=tmp_path, HITL_CRM_APPROVALS_UNDO_SECONDS=0):
        yield tmp_path


@pytest.fixture
def colleague(make_user):
    return make_user(SUPPORT_AGENT, username="colleague")


@pytest.fixture
def agents_review_email(roles):
    policy = ApprovalPolicy.objects.create(name="Customer email", action=NOTIFY_EMAIL, sla_minutes=60)
    policy.reviewer_groups.set([Group.objects.get(name=SUPPORT_AGENT)])


def _approved_email(reviewer, subject: str, django_capture_on_commit_callbacks) -> ApprovalRequest:
    """An email a support agent approves; the executor sends it through the delivery kernel."""
    contact = ContactFactory(email=f"{reviewer.username}-customer@c.example")
    with django_capture_on_commit_callbacks(execute=True):
        req = approval_request_create(
            action=NOTIFY_EMAIL, subject=contact, proposal={"to": contact.email, "subject": subject, "body": "Hello."}
        )
    with django_capture_on_commit_callbacks(execute=True):
        approval_decide(request_id=req.pk, payload_hash=req.payload_hash, reviewer=reviewer, verdict="approve")
    approval_execute(request_id=req.pk)  # a no-op if it already ran on commit
    req.refresh_from_db()
    assert req.status == ApprovalRequest.Status.EXECUTED
    return req


@pytest.fixture
def two_agents_mail(outbox_dir, agents_review_email, support_agent, colleague, django_capture_on_commit_callbacks):
    mine = _approved_email(support_agent, "Your order shipped", django_capture_on_commit_callbacks)
    _approved_email(colleague, "Your refund is on its way", django_capture_on_commit_callbacks)
    # mail no person sent (e.g. a password reset written straight to the backend)
    mail.EmailMessage("Password reset", "Hi", "desk@shop.example", ["x@c.example"], connection=get_connection()).send()
    return mine


def _subjects(response) -> list[str]:
    return [m["subject"] for m in response.context["mails"]]


def test_the_executor_records_who_approved_the_email_on_its_delivery(two_agents_mail, support_agent):
    delivery = Delivery.objects.get(key=two_agents_mail.execution_key)
    assert delivery.sent_by == support_agent


def test_an_agent_sees_only_the_mail_they_sent(client, support_agent, two_agents_mail):
    # given
    client.force_login(support_agent)

    # when
    response = client.get("/outbox/")

    # then: their approved email, not the colleague's, not mail nobody sent
    assert response.status_code == 200
    assert _subjects(response) == ["Your order shipped"]
    assert response.context["sender"] == "me"
    assert "went out on your word" in response.content.decode()


def test_an_agent_cannot_widen_the_filter_to_everyone(client, support_agent, two_agents_mail):
    client.force_login(support_agent)
    response = client.get("/outbox/", {"sender": ""})
    assert _subjects(response) == ["Your order shipped"]


def test_an_agent_opens_their_own_message_but_not_a_colleagues(client, support_agent, two_agents_mail, outbox_dir):
    # given
    client.force_login(support_agent)
    names = {m["subject"]: m["id"] for m in client.get("/outbox/").context["mails"]}
    all_files = {path.stem for path in outbox_dir.glob("*.eml")}
    others = all_files - set(names.values())

    # when / then
    assert client.get(f"/outbox/{names['Your order shipped']}/").status_code == 200
    assert others
    assert all(client.get(f"/outbox/{name}/").status_code == 404 for name in others)


def test_a_manager_sees_everything_and_can_narrow_it_to_their_own(client, manager, two_agents_mail):
    # given
    client.force_login(manager)

    # when
    everything = client.get("/outbox/")
    mine = client.get("/outbox/", {"sender": "me"})

    # then
    assert set(_subjects(everything)) >= {"Your order shipped", "Your refund is on its way", "Password reset"}
    assert _subjects(mine) == []
    assert "Nothing sent by you yet" in mine.content.decode()


def test_sent_by_combines_with_the_kind_filter(client, support_agent, two_agents_mail):
    client.force_login(support_agent)
    assert _subjects(client.get("/outbox/", {"kind": "email"})) == ["Your order shipped"]
    assert _subjects(client.get("/outbox/", {"kind": "reply"})) == []


def test_an_unknown_sender_is_a_400_naming_the_field(client, manager, outbox_dir):
    client.force_login(manager)
    response = client.get("/outbox/", {"sender": "everyone-else"})
    assert response.status_code == 400
    assert response.content.decode().startswith("sender:")


def test_the_outbox_link_is_in_every_signed_in_persons_sidebar(client, support_agent):
    client.force_login(support_agent)
    assert 'href="/outbox/"' in client.get("/").content.decode()
