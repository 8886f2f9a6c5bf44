"""The service desk UI: inbox, needs-human view, case page (approve and send, write a reply,
correct triage) and the knowledge base."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals.models import ApprovalRequest
from hitl_crm.contacts.models import Activity
from service.models import Case, KnowledgeArticle, Message
from service.routing import SEND_REPLY
from tests.factories import ContactFactory
from tests.service.conftest import customer_mail

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.service.urls_for_tests")]

HTMX = {"HTTP_HX_REQUEST": "true"}


def _pending(case) -> ApprovalRequest:
    return ApprovalRequest.objects.get(action=SEND_REPLY, object_id=str(case.pk), status="pending")


# --- inbox --------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, 10])
def test_the_inbox_costs_the_same_number_of_queries_for_any_number_of_cases(
    client, support_agent, make_case, django_assert_num_queries, extra
):
    # given: a page's worth of cases, plus `extra` more (the page still shows 25)
    for _ in range(26 + extra):
        make_case(risk="medium")
    client.force_login(support_agent)

    # then: session, user, the user's permissions (2), the intent filter's choices (1 + the active-model
    # check), the count, the page of cases with contact/account/owner joined, and the user's groups for
    # the header: the same whatever the number of cases
    with django_assert_num_queries(9):
        response = client.get("/service/")
    assert response.status_code == 200
    assert response.context["page"].count == 26 + extra


def test_the_inbox_shows_badges_sla_age_and_filters(client, support_agent, make_case, vip_customer):
    old = make_case(
        subject="Stove sparked",
        risk="critical",
        sentiment=-0.8,
        intent="complaint",
        waiting_since=timezone.now() - timedelta(hours=30),
        needs_human=True,
        needs_human_reason="The customer describes a possible safety incident.",
    )
    make_case(subject="Which size?", risk="low", sentiment=0.3, intent="product_question", contact=vip_customer)
    client.force_login(support_agent)

    page = client.get("/service/").content.decode()
    assert "Stove sparked" in page
    assert "Which size?" in page
    assert '<span class="pill pill-critical" title="Sentiment -0.80">upset</span>' in page
    assert '<span class="sla overdue"' in page
    assert "1 d 6 h" in page
    assert '<span class="pill pill-vip">VIP</span>' in page

    filtered = client.get("/service/", {"risk": "critical"}, **HTMX)
    body = filtered.content.decode()
    assert "Stove sparked" in body
    assert "Which size?" not in body
    assert "<html" not in body  # HTMX gets the results partial only
    needs = client.get("/service/needs-human/").content.decode()
    assert "Stove sparked" in needs
    assert "Which size?" not in needs
    assert "safety incident" in needs
    assert old.get_absolute_url() in needs


def test_a_sales_rep_sees_only_the_cases_of_their_own_customers(client, sales_rep, make_case):
    mine = make_case(contact=ContactFactory(owner=sales_rep), subject="My customer's case")
    other = make_case(subject="Someone else's case")
    client.force_login(sales_rep)

    page = client.get("/service/").content.decode()
    assert "My customer&#x27;s case" in page
    assert "Someone else" not in page
    assert client.get(mine.get_absolute_url()).status_code == 200
    assert client.get(other.get_absolute_url()).status_code == 404


def test_people_without_the_role_cannot_open_the_desk(client, marketer, make_case):
    # given: a customer's case
    customer = ContactFactory(email="private.customer@example.test")
    case = make_case(contact=customer, subject="My card was charged twice")
    before = Case.objects.values().get(pk=case.pk)
    client.force_login(marketer)

    # when: someone without the support role opens the desk and the case, then tries to reply and close it
    inbox = client.get("/service/")
    page = client.get(case.get_absolute_url())
    reply = client.post(f"/service/cases/{case.pk}/reply/", {"body": "Refund on its way."})
    closed = client.post(f"/service/cases/{case.pk}/status/", {"status": "closed"})

    # then: refused, with neither the case nor the customer in the answer, and the case untouched
    for response in (inbox, page, reply, closed):
        assert response.status_code == 403
        body = response.content.decode()
        assert "My card was charged twice" not in body
        assert "private.customer@example.test" not in body
        assert "Hello, a question." not in body
    assert Case.objects.values().get(pk=case.pk) == before
    assert Case.objects.count() == 1
    assert list(Message.objects.filter(case=case).values_list("direction", flat=True)) == ["in"]
    assert not ApprovalRequest.objects.exists()
    assert mail.outbox == []


# --- case page -----------------------------------------------------------------------------------


def test_the_case_page_shows_thread_summary_triage_articles_and_the_draft_escaped(
    client, desk, customer, receive, support_agent
):
    case = receive(
        customer.email,
        "Where is my order? <b>urgent</b>",
        "Hi, I ordered two rain shells (order NW-20411) and the tracking page has not changed for four "
        "days. <script>alert('x')</script> Where is my order?",
    ).case
    client.force_login(support_agent)

    page = client.get(case.get_absolute_url()).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;urgent&lt;/b&gt;" in page
    assert "NW-20411" in page  # key facts
    assert "track order" in page  # triage
    assert "Delivery times and tracking" in page  # suggested article
    assert 'name="verdict" value="approve"' in page
    assert "Approve and send" in page
    assert _pending(case).final["body"].splitlines()[0] in page


@pytest.mark.django_db(transaction=True)
def test_approve_and_send_from_the_case_page_sends_one_threaded_mail_and_shows_it(
    client, desk, customer, support_agent
):
    # Transactional, like production: the send runs when the decision commits, before the page renders.
    from service.inbound import build
    from service.services import inbound_message_receive

    case = inbound_message_receive(
        mail=build(
            sender=customer.email,
            subject="Where is my order?",
            body="Hi, order NW-20411 has not arrived. Where is it?",
            message_id="<q1@mail.example>",
        )
    ).case
    pending = _pending(case)
    client.force_login(support_agent)
    # a light edit (a rewrite would need a second reviewer)
    edited = pending.final["body"] + "\n\nPS: I've asked them to check on it."

    response = client.post(
        f"/service/cases/{case.pk}/draft/",
        {
            "verdict": "approve",
            "subject": pending.final["subject"],
            "body": edited,
            "payload_hash": pending.payload_hash,
        },
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Approved and sent." in body
    assert "I&#x27;ve asked them to check on it." in body  # the thread now shows the reply
    sent = customer_mail(customer.email)
    assert len(sent) == 1
    assert sent[0].body == edited
    assert sent[0].extra_headers["In-Reply-To"] == "<q1@mail.example>"
    assert Activity.objects.filter(contact=customer, kind="email_out", summary__startswith="Reply sent").count() == 1
    pending.refresh_from_db()
    assert pending.status == "executed"
    assert pending.decisions.get().verdict == "approve_with_edits"


def test_an_agent_cannot_send_what_only_a_manager_may_approve(
    client, desk, customer, receive, support_agent, run_on_commit
):
    case = receive(
        customer.email,
        "Third email",
        "This is the third time I'm writing. Nobody answers, your tracking "
        "page is useless. Absolutely ridiculous service.",
    ).case
    pending = _pending(case)
    client.force_login(support_agent)

    page = client.get(case.get_absolute_url()).content.decode()
    assert "Approve and send" not in page
    assert "You are not a reviewer of this request." in page

    with run_on_commit():
        response = client.post(
            f"/service/cases/{case.pk}/draft/",
            {
                "verdict": "approve",
                "subject": "Re: x",
                "body": pending.final["body"],
                "payload_hash": pending.payload_hash,
            },
            **HTMX,
        )
    assert "You are not a reviewer of this request." in response.content.decode()
    assert customer_mail(customer.email) == []


def test_a_reply_written_by_an_agent_goes_to_another_reviewer(
    client, desk, customer, receive, support_agent, make_user, run_on_commit
):
    case = receive(customer.email, "Which jacket size?", "Small or medium insulated jacket over a t-shirt?").case
    ai_draft = _pending(case)
    client.force_login(support_agent)

    with run_on_commit():
        response = client.post(f"/service/cases/{case.pk}/reply/", {"body": "Hi Olivia,\nTake the small.\nSue"}, **HTMX)

    assert "waiting for another reviewer" in response.content.decode()
    ai_draft.refresh_from_db()
    mine = _pending(case)
    assert ai_draft.status == "cancelled"
    assert mine.requested_by == support_agent
    assert mine.final["body"] == "Hi Olivia,\nTake the small.\nSue"
    assert (
        "You asked for this; another reviewer must decide it." in client.get(case.get_absolute_url()).content.decode()
    )

    # when: a colleague approves it on the case page
    colleague = make_user("Support agent", username="agent2")
    client.force_login(colleague)
    with run_on_commit():
        client.post(
            f"/service/cases/{case.pk}/draft/",
            {
                "verdict": "approve",
                "subject": mine.final["subject"],
                "body": mine.final["body"],
                "payload_hash": mine.payload_hash,
            },
            **HTMX,
        )

    assert [m.body for m in customer_mail(customer.email)] == ["Hi Olivia,\nTake the small.\nSue"]
    assert Message.objects.get(case=case, direction="out").author == colleague


def test_rejecting_on_the_case_page_needs_a_reason_and_sends_nothing(
    client, desk, customer, receive, support_agent, run_on_commit
):
    case = receive(customer.email, "Which jacket size?", "Small or medium insulated jacket?").case
    pending = _pending(case)
    client.force_login(support_agent)
    form = {
        "verdict": "reject",
        "subject": pending.final["subject"],
        "body": pending.final["body"],
        "payload_hash": pending.payload_hash,
    }

    no_reason = client.post(f"/service/cases/{case.pk}/draft/", form, **HTMX).content.decode()
    assert "Pick a reason" in no_reason
    with run_on_commit():
        done = client.post(f"/service/cases/{case.pk}/draft/", {**form, "reason": "tone"}, **HTMX).content.decode()

    assert "Rejected. Nothing was sent." in done
    assert customer_mail(customer.email) == []
    assert Case.objects.get(pk=case.pk).needs_human


def test_correcting_triage_on_the_case_page(client, desk, customer, receive, support_agent):
    case = receive(customer.email, "Which jacket size?", "Small or medium insulated jacket?").case
    client.force_login(support_agent)

    response = client.post(f"/service/cases/{case.pk}/triage/", {"intent": "complaint", "sentiment": ""}, **HTMX)

    body = response.content.decode()
    assert 'id="triage"' in body
    assert "<html" not in body
    assert "Triage learns from your correction" in body
    assert "set by a person" in body
    assert Case.objects.get(pk=case.pk).intent == "complaint"


# --- knowledge base ---------------------------------------------------------------------------------


def test_agents_write_knowledge_articles_that_ground_drafts(client, support_agent, sales_rep):
    client.force_login(support_agent)

    response = client.post(
        "/service/kb/new/",
        {
            "title": "Gift cards",
            "body": "Gift cards never expire and can be used for any order.",
            "tags": "Gift, Payment",
            "published": "on",
        },
    )

    article = KnowledgeArticle.objects.get(title="Gift cards")
    assert response.status_code == 302
    assert response["Location"] == f"/service/kb/{article.pk}/"
    assert article.slug == "gift-cards"
    assert article.tags == "gift, payment"
    assert article.last_reviewed_at
    listing = client.get("/service/kb/", {"q": "gift"}, **HTMX).content.decode()
    assert "Gift cards" in listing
    assert "<html" not in listing
    edit = client.post(
        f"/service/kb/{article.pk}/edit/",
        {"title": "Gift cards", "body": "Gift cards expire after 5 years.", "tags": "gift", "published": ""},
    )
    assert edit.status_code == 302
    assert not KnowledgeArticle.objects.get(pk=article.pk).published

    client.force_login(sales_rep)
    assert client.get("/service/kb/new/").status_code == 403


def test_drafts_are_hidden_from_readers_without_edit_rights(client, make_user, support_agent):
    from service.services import knowledge_article_seed

    draft = knowledge_article_seed(title="Unreleased policy", body="Not yet.", published=False)
    reader = make_user(username="reader")
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="view_knowledgearticle"))
    client.force_login(reader)

    # when: the reader opens the draft and searches the knowledge base for it
    hidden = client.get(f"/service/kb/{draft.pk}/")
    listing = client.get("/service/kb/", {"q": "Unreleased"})

    # then: the draft is not found, and neither answer shows its title or text
    assert hidden.status_code == 404
    assert listing.status_code == 200
    for response in (hidden, listing):
        assert "Unreleased policy" not in response.content.decode()
        assert "Not yet." not in response.content.decode()
    # … while someone who may edit it sees it
    client.force_login(support_agent)
    shown = client.get(f"/service/kb/{draft.pk}/")
    assert shown.status_code == 200
    assert "Unreleased policy" in shown.content.decode()
    assert KnowledgeArticle.objects.get(pk=draft.pk).published is False


def test_the_dashboard_counts_open_cases_and_those_needing_a_person(client, support_agent, make_case):
    make_case()
    make_case(needs_human=True)
    make_case(status="closed")
    client.force_login(support_agent)

    stats = {s["label"]: s["value"] for s in client.get("/").context["app_stats"]}

    assert stats["Open cases"] == 2
    assert stats["Cases needing a person"] == 1
    assert mail.outbox == []


def test_the_review_queue_shows_a_reply_with_what_the_customer_wrote_escaped(
    client, desk, customer, receive, support_agent
):
    case = receive(customer.email, "Where is my order?", "Where is order NW-20411? <img src=x onerror=alert(1)>").case
    client.force_login(support_agent)

    page = client.get(f"/approvals/{_pending(case).pk}/").content.decode()

    assert "Customer wrote" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<img src=x" not in page
    assert f'href="/service/cases/{case.pk}/"' in page
    assert "Re: Where is my order?" in page


def test_the_review_queue_shows_a_refund_with_the_policys_reasons(client, desk, customer, receive, manager):
    from service.models import RefundRequest
    from service.routing import ISSUE_REFUND

    case = receive(
        customer.email, "Refund", "We ordered beacons last week (NW-3) and never used them. Please refund the $1,200."
    ).case
    refund = RefundRequest.objects.get(case=case)
    req = ApprovalRequest.objects.get(action=ISSUE_REFUND, object_id=str(refund.pk))
    client.force_login(manager)

    page = client.get(f"/approvals/{req.pk}/").content.decode()

    assert "1200.00 USD" in page
    assert "Recommendation: escalate" in page
    assert "above the 500.00 USD the policy lets support approve" in page
    assert "is above the refund policy limit of 500.00 USD." in page  # the flag, in "Why a human must look"


def test_the_inbox_search_finds_subjects_customers_and_companies(client, support_agent, make_case):
    from tests.factories import AccountFactory

    by_subject = make_case(subject="Order NW-20411 is late")
    by_company = make_case(contact=ContactFactory(account=AccountFactory(name="Fjord Adventure AS")))
    by_email = make_case(contact=ContactFactory(email="kwame@newcustomer.example"))
    make_case(subject="Unrelated")
    client.force_login(support_agent)

    def found(q: str) -> list[int]:
        return [c.pk for c in client.get("/service/", {"q": q}).context["page"].object_list]

    assert found("nw-20411") == [by_subject.pk]
    assert found("fjord adventure") == [by_company.pk]
    assert found("KWAME@") == [by_email.pk]
