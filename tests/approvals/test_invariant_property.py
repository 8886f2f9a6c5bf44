"""Property test: whatever a cast of users (and a database-level attacker) does, in any order,
the handler runs at most once, and only for a payload that enough qualified people approved."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from approvals.exceptions import ApprovalError
from approvals.models import ApprovalPolicy, ApprovalRequest, AuthorityLimit, Decision
from approvals.payloads import payload_hash
from approvals.registry import register, unregister
from approvals.selectors import user_may_review
from approvals.services import (
    approval_cancel,
    approval_decide,
    approval_escalate_overdue,
    approval_execute,
    approval_request_create,
    approval_requeue,
)
from hitl_crm.accounts.roles import MANAGER, SALES_REP, SUPPORT_AGENT, roles_ensure
from hitl_crm.contacts.services import contact_update
from tests.approvals import actions
from tests.factories import ContactFactory, UserFactory

ACTORS = ["agent1", "agent2", "requester", "owner", "outsider", "manager1", "manager2"]
# weighted towards approvals by eligible people, so that many runs reach execution
VERDICTS = ["approve", "approve", "approve", "approve_with_edits", "reject", "request_changes"]
EDITS = [
    None,
    {"note": "goodwill"},
    {"amount": "300.00"},
    {"amount": "25000.00"},
    {"currency": "EUR"},
    {"amount": "-5"},
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), st.sampled_from(ACTORS), st.sampled_from(VERDICTS), st.sampled_from(EDITS)),
        st.tuples(
            st.just("decide"), st.sampled_from(["agent1", "manager1", "manager2"]), st.just("approve"), st.just(None)
        ),
        st.tuples(st.just("cancel"), st.sampled_from(ACTORS)),
        st.tuples(st.just("execute")),
        st.tuples(st.just("tamper_payload")),
        st.tuples(st.just("force_approved")),
        st.tuples(st.just("touch_subject")),
        st.tuples(st.just("escalate")),
        st.tuples(st.just("requeue"), st.sampled_from(ACTORS)),
    ),
    max_size=12,
)


@pytest.mark.urls("tests.approvals.urls_for_tests")
class InvariantTests(TestCase):
    @classmethod
    def setUpClass(cls):
        register(actions.REFUND)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        unregister(actions.REFUND.key)

    @classmethod
    def setUpTestData(cls):
        roles_ensure()
        agents, managers = Group.objects.get(name=SUPPORT_AGENT), Group.objects.get(name=MANAGER)
        cls.users = {
            "agent1": UserFactory(username="p-agent1", roles=[SUPPORT_AGENT]),
            "agent2": UserFactory(username="p-agent2", roles=[SUPPORT_AGENT]),
            "requester": UserFactory(username="p-requester", roles=[SUPPORT_AGENT]),
            "owner": UserFactory(username="p-owner", roles=[SUPPORT_AGENT, MANAGER]),
            "outsider": UserFactory(username="p-outsider", roles=[SALES_REP]),
            "manager1": UserFactory(username="p-manager1", roles=[MANAGER]),
            "manager2": UserFactory(username="p-manager2", roles=[MANAGER]),
        }
        small = ApprovalPolicy.objects.create(name="small", action="tests.refund", max_amount=Decimal("20000"))
        small.reviewer_groups.set([agents, managers])
        AuthorityLimit.objects.create(policy=small, group=agents, max_amount=Decimal("500"))
        AuthorityLimit.objects.create(policy=small, group=managers, max_amount=Decimal("20000"))
        large = ApprovalPolicy.objects.create(
            name="large", action="tests.refund", min_amount=Decimal("20000.01"), required_approvals=2
        )
        large.reviewer_groups.set([managers])

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(amount=st.sampled_from(["120.00", "900.00", "25000.00"]), ops=operations)
    # always tried: an approval that executes, then two more deliveries of the execution
    @example(amount="120.00", ops=[("decide", "agent1", "approve", None), ("execute",), ("execute",)])
    # two managers approve a large refund, then an attacker flips it back and forth
    @example(
        amount="25000.00",
        ops=[
            ("decide", "manager1", "approve", None),
            ("force_approved",),
            ("execute",),
            ("decide", "manager2", "approve", None),
            ("execute",),
            ("requeue", "manager1"),
            ("execute",),
        ],
    )
    def test_handler_runs_at_most_once_and_only_for_an_approved_payload(self, amount, ops):
        actions.CALLS.clear()
        actions.FAILURES.update(transient=0, permanent=False)
        contact = ContactFactory(owner=self.users["owner"])
        req = approval_request_create(
            action="tests.refund",
            subject=contact,
            proposal={"amount": amount, "currency": "USD"},
            requested_by=self.users["requester"],
        )
        for op in ops:
            with self.captureOnCommitCallbacks(execute=True), contextlib.suppress(ApprovalError):
                self._apply(op, req, contact)
            self._check(req)
        event(f"ended {ApprovalRequest.objects.get(pk=req.pk).status}")  # shown by --hypothesis-show-statistics

    def _apply(self, op, req, contact):
        kind = op[0]
        if kind == "decide":
            _, who, verdict, edits = op
            approval_decide(
                request_id=req.pk,
                payload_hash=req.payload_hash,
                reviewer=self.users[who],
                verdict=verdict,
                edits=edits,
                reason="other" if verdict == "reject" else "",
                comment="please change" if verdict == "request_changes" else "",
            )
        elif kind == "cancel":
            approval_cancel(request_id=req.pk, actor=self.users[op[1]])
        elif kind == "execute":
            approval_execute(request_id=req.pk)
        elif kind == "tamper_payload":
            current = ApprovalRequest.objects.get(pk=req.pk)
            ApprovalRequest.objects.filter(pk=req.pk).update(final={**current.final, "amount": "99999.00"})
        elif kind == "force_approved":
            ApprovalRequest.objects.filter(pk=req.pk, status="pending").update(status="approved")
        elif kind == "touch_subject":
            contact_update(contact=contact, data={"title": f"{contact.title}+"}, actor=self.users["manager1"])
        elif kind == "escalate":
            from datetime import timedelta

            from django.utils import timezone

            approval_escalate_overdue(now=timezone.now() + timedelta(days=30))
        elif kind == "requeue":
            approval_requeue(request_id=req.pk, actor=self.users[op[1]])

    def _check(self, req):
        current = ApprovalRequest.objects.get(pk=req.pk)
        # the handler never fails here, so every call for this request is a run that did its work
        runs = [c for c in actions.CALLS if c["request"] == req.pk]
        ok_calls = [c for c in runs if c["outcome"] == "ok"]
        # at most once per request, and executed exactly when it ran
        assert len(runs) <= 1, runs
        assert ok_calls == runs
        assert (current.status == "executed") == bool(ok_calls)
        assert [c["request"] for c in actions.CALLS] == [req.pk] * len(runs)  # no other request was executed
        forbidden = {self.users[n].pk for n in ("requester", "owner", "outsider")}
        for decision in Decision.objects.filter(request=req):
            # nobody decided who may not: no outsider, no requester, no owner
            assert decision.reviewer_id not in forbidden
            assert user_may_review(user=decision.reviewer, request_id=req.pk)
            # no agent approved more than their authority
            if decision.verdict in Decision.APPROVING and not decision.reviewer.groups.filter(name=MANAGER).exists():
                assert Decimal(decision.payload_after["amount"]) <= 500
        for call in ok_calls:
            # exactly an approved payload, approved by enough distinct qualified people
            approvers = (
                Decision.objects.filter(
                    request=req, verdict__in=Decision.APPROVING, payload_hash=payload_hash(call["payload"])
                )
                .values("reviewer")
                .distinct()
                .count()
            )
            assert approvers >= current.required_approvals
            assert call["payload"]["amount"] != "99999.00"


@pytest.mark.urls("tests.approvals.urls_for_tests")
class InvariantCheckTests(InvariantTests):
    """The check above fails for the outcomes it exists to catch (so passing means something)."""

    test_handler_runs_at_most_once_and_only_for_an_approved_payload = None

    def test_a_second_run_of_the_handler_breaks_the_invariant(self):
        # given: a request approved and executed once
        actions.CALLS.clear()
        req = approval_request_create(
            action="tests.refund",
            subject=ContactFactory(owner=self.users["owner"]),
            proposal={"amount": "120.00", "currency": "USD"},
            requested_by=self.users["requester"],
        )
        with self.captureOnCommitCallbacks(execute=True):
            approval_decide(
                request_id=req.pk, payload_hash=req.payload_hash, reviewer=self.users["agent1"], verdict="approve"
            )
        self._check(req)
        assert ApprovalRequest.objects.get(pk=req.pk).status == "executed"
        assert len(actions.CALLS) == 1
        # when: the handler's call is recorded a second time, as a double delivery would
        actions.CALLS.append(dict(actions.CALLS[0]))
        # then
        with pytest.raises(AssertionError):
            self._check(req)
