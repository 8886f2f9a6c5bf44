"""Reads for the service desk. Each selector that takes a ``user`` returns only what they may see.

Who sees which case: holders of ``service.view_all_cases`` (support agents, managers) see
every case; anyone else with ``service.view_case`` (sales reps) sees the cases of contacts
and accounts they own or cases assigned to them. The filter is a join on the case's own
rows, never a list of ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeGuard

from django.contrib.auth.models import User
from django.db.models import Case as CaseWhen
from django.db.models import Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from approvals.models import ApprovalRequest
from approvals.selectors import approval_open_for_subject
from hitl_crm.contacts.models import Contact
from hitl_crm.counters import cached_count
from hitl_crm.paging import SortKey
from service.models import Case, KnowledgeArticle, Message, RefundRequest
from service.routing import ISSUE_REFUND, SEND_REPLY

CONTACT_IDS_INLINE = 500  # a search word's matching contacts passed as a list of ids up to this many


def _signed_in(user: Any) -> TypeGuard[User]:
    return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def _own_cases(user: User) -> Q:
    return Q(owner=user) | Q(contact__owner=user) | Q(contact__account__owner=user)


def sees_all_cases(user: User) -> bool:
    return user.is_superuser or user.has_perm("service.view_all_cases")


def case_list(*, user: User) -> QuerySet[Case]:
    """Cases the user may view, with contact, account and owner joined (one query per page)."""
    if not _signed_in(user) or not user.has_perm("service.view_case"):
        return Case.objects.none()
    qs = Case.objects.select_related("contact__account", "owner")
    if not sees_all_cases(user):
        qs = qs.filter(_own_cases(user))
    return qs


def case_filter(
    qs: QuerySet[Case],
    *,
    status: str = "",
    risk: str = "",
    intent: str = "",
    needs_human: bool | None = None,
    q: str = "",
    owner: str = "",
    me: User | None = None,
) -> QuerySet[Case]:
    """``owner`` is ``"mine"`` (the cases ``me`` owns), ``"none"`` (nobody owns) or ``""`` (everyone's)."""
    if owner == "mine":
        qs = qs.filter(owner=me) if me is not None and me.pk else qs.none()
    elif owner == "none":
        qs = qs.filter(owner__isnull=True)
    if status == "active":
        qs = qs.filter(status__in=Case.OPEN_STATUSES)
    elif status:
        qs = qs.filter(status=status)
    if risk:
        qs = qs.filter(risk=risk)
    if intent:
        qs = qs.filter(intent=intent)
    if needs_human is not None:
        qs = qs.filter(needs_human=needs_human)
    for word in q.split()[:5]:
        # The subject (trigram-indexed on PostgreSQL) or a matching contact, found by its maintained
        # ``search_text`` (email, names, title, account; trigram-indexed too) in its own, much smaller
        # table. The contacts are looked up once per word, up front, so the count and the page reuse the
        # ids: ``contact IN (ids)`` and the subject pattern are two index scans the database ORs together
        # (or, for a common word, one pass that the capped count stops early). A word that matches very
        # many contacts keeps them as a subquery instead of a long list.
        contacts = Contact.objects.filter(search_text__contains=word.lower()).order_by().values_list("pk", flat=True)
        ids = list(contacts[: CONTACT_IDS_INLINE + 1])
        matching = Q(contact_id__in=ids) if len(ids) <= CONTACT_IDS_INLINE else Q(contact_id__in=contacts)
        qs = qs.filter(Q(subject__icontains=word) | matching)
    return qs


def case_inbox_keys(*, now: datetime | None = None) -> list[SortKey]:
    """The inbox's sort keys: overdue first (an open case whose customer has waited longer than
    ``SLA_HOURS``), then risk (critical → low), then the longest wait, then the newest message, then the
    newest case (unique, so the order is total and a keyset cursor can resume it).

    Plain expressions on the case's own columns, so a page stays one query (and the deferred join
    can reuse them). ``now`` fixes which cases count as overdue; a cursor carries it from page to page.
    """
    from service.conf import app_settings

    now = now or timezone.now()
    overdue = CaseWhen(
        When(
            status__in=Case.OPEN_STATUSES,
            waiting_since__lte=now - timedelta(hours=app_settings.SLA_HOURS),
            then=Value(0),
        ),
        default=Value(1),
        output_field=IntegerField(),
    )
    risk = CaseWhen(
        When(risk=Case.Risk.CRITICAL, then=Value(0)),
        When(risk=Case.Risk.HIGH, then=Value(1)),
        When(risk=Case.Risk.MEDIUM, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    return [
        SortKey("inbox_overdue", overdue),
        SortKey("inbox_risk", risk),
        SortKey("waiting_since", F("waiting_since"), nullable=True, kind="datetime"),
        SortKey("last_message_at", F("last_message_at"), descending=True, kind="datetime"),
        SortKey("id", F("id"), descending=True),
    ]


def case_inbox_order(*, now: datetime | None = None) -> list[Any]:
    """``order_by`` terms for the inbox (see ``case_inbox_keys``)."""
    return [key.order_by() for key in case_inbox_keys(now=now)]


def case_workers(*, user: User) -> QuerySet[User]:
    """The people a case may be assigned to (active users who may change cases), by name; empty for
    someone who may not change cases themselves."""
    if not _signed_in(user) or not user.has_perm("service.change_case"):
        return User.objects.none()
    return User.objects.with_perm("service.change_case", backend="django.contrib.auth.backends.ModelBackend").order_by(
        "first_name", "last_name", "username"
    )


# Kernel counters (``hitl_crm.counters``) of the service desk, by name.
CASE_COUNTS = "service:case_counts"  # the dashboard's open / needing a person (global for who sees all)
MY_CASE_COUNTS = "service:my_case_counts"  # "Your open cases" (per owner)


def case_counts(*, user: User) -> dict[str, int]:
    """Open cases and open cases that need a person, in one query, for the dashboard.

    A kernel counter: counted at most once per ``HITL_CRM_COUNTER_SECONDS``, one figure shared by
    everyone who sees every case and one per person for those who see only their customers' cases.
    """
    if not _signed_in(user) or not user.has_perm("service.view_case"):
        return {"open": 0, "needs_human": 0}

    def compute() -> dict[str, int]:
        qs = case_list(user=user).filter(status__in=Case.OPEN_STATUSES).order_by()
        row = qs.aggregate(open=Count("id"), needs_human=Count("id", filter=Q(needs_human=True)))
        return {"open": row["open"] or 0, "needs_human": row["needs_human"] or 0}

    return cached_count(CASE_COUNTS, compute, user_id=None if sees_all_cases(user) else user.pk)


def case_thread(*, case: Case) -> QuerySet[Message]:
    return case.messages.select_related("author").order_by("occurred_at", "id")


def case_suggested_articles(*, case: Case) -> list[KnowledgeArticle]:
    """The articles the pipeline retrieved for the case, best first (published ones only)."""
    ids = [int(i) for i in case.suggested_article_ids or [] if str(i).isdigit()]
    found = KnowledgeArticle.objects.filter(pk__in=ids, published=True).in_bulk()
    return [found[i] for i in ids if i in found]


def case_pending_reply(*, case: Case) -> ApprovalRequest | None:
    """The reply waiting for approval (or being sent) for this case, if any."""
    return approval_open_for_subject(action=SEND_REPLY, subject=case)


def case_refunds(*, case: Case) -> list[RefundRequest]:
    """The case's refund requests, newest first, each with ``approval`` = its latest approval request."""
    from django.contrib.contenttypes.models import ContentType

    items = list(case.refunds.all())
    if not items:
        return items
    requests = ApprovalRequest.objects.filter(
        action=ISSUE_REFUND,
        content_type=ContentType.objects.get_for_model(RefundRequest),
        object_id__in=[str(r.pk) for r in items],
    ).order_by("id")
    latest = {req.object_id: req for req in requests}
    for refund in items:
        refund.approval = latest.get(str(refund.pk))
    return items


def case_intents(*, user: User) -> list[str]:
    """Intent labels to offer: what triage can assign plus every label people have taught it.

    Read from the (small) training examples, never by scanning the cases."""
    from hitl_crm.ai.models import IntentExample
    from hitl_crm.ai.selectors import intent_labels

    taught = IntentExample.objects.order_by().values_list("intent", flat=True).distinct()[:500]
    return sorted(set(intent_labels()) | set(taught))


def message_list(*, user: User) -> QuerySet[Message]:
    """Messages of the cases the user may view."""
    if not _signed_in(user) or not user.has_perm("service.view_message"):
        return Message.objects.none()
    qs = Message.objects.select_related("case")
    if not sees_all_cases(user):
        qs = qs.filter(case__in=case_list(user=user).values("pk"))
    return qs


def refund_list(*, user: User) -> QuerySet[RefundRequest]:
    if not _signed_in(user) or not user.has_perm("service.view_refundrequest"):
        return RefundRequest.objects.none()
    qs = RefundRequest.objects.select_related("case")
    if not sees_all_cases(user):
        qs = qs.filter(case__in=case_list(user=user).values("pk"))
    return qs


def knowledge_list(*, user: User | None, q: str = "", tag: str = "") -> QuerySet[KnowledgeArticle]:
    """Articles the user may read: everything for editors, published ones for everyone else."""
    if not _signed_in(user) or not user.has_perm("service.view_knowledgearticle"):
        return KnowledgeArticle.objects.none()
    qs = KnowledgeArticle.objects.all()
    if not user.has_perm("service.change_knowledgearticle"):
        qs = qs.filter(published=True)
    for word in q.split()[:5]:
        qs = qs.filter(Q(title__icontains=word) | Q(body__icontains=word) | Q(tags__icontains=word))
    if tag:
        qs = qs.filter(tags__icontains=tag.strip().lower())
    return qs


def knowledge_tags(*, user: User) -> list[str]:
    tags: set[str] = set()
    for value in knowledge_list(user=user).values_list("tags", flat=True):
        tags.update(t.strip() for t in value.split(",") if t.strip())
    return sorted(tags)


def case_search(*, user: User, query: str, limit: int = 8) -> list[Case]:
    """Cases the user may view whose subject or contact matches every word of ``query``, newest first."""
    if not query.strip():
        return []
    return list(case_filter(case_list(user=user), q=query).order_by("-pk")[:limit])
