"""Every change to the service desk goes through here: inbound mail, the AI pipeline, corrections,
replies written by people, refunds and the knowledge base.

Nothing here sends anything to a customer. Replies and refunds become approval requests;
only the approvals executor, calling ``service.handlers``, delivers them.

The services live by sub-domain and are all importable from here:

* ``inbound`` — customer mail in, the pipeline's entry points;
* ``cases`` — status, priority, owner, triage corrections, the summary;
* ``replies`` — a person's own reply, and the reply building blocks the pipeline shares;
* ``refunds`` — refund requests;
* ``knowledge`` — the knowledge base;
* ``feedback`` — what a closed approval request changes here.

One way to refuse: write services take ``actor`` and check it with
:func:`hitl_crm.permissions.require_permission` (``PermissionDenied``: 403 in the API, the 403
page in the UI); a state conflict is :class:`hitl_crm.errors.InvalidState` (409). The system
entry points take no actor and act as the system: :func:`inbound_message_receive` (inbound
mail), :func:`message_pipeline_run`, :func:`message_pipeline_sweep` and
:func:`case_summary_refresh` (tasks), :func:`refund_request_close` and
:func:`on_approval_status_changed` (approvals feedback), :func:`knowledge_article_seed`
(installing articles from the command line).
"""

from __future__ import annotations

from service.services.cases import (
    CASE_FIELDS,
    THREAD_FOR_SUMMARY,
    case_summary_refresh,
    case_triage_correct,
    case_update,
    thread_for_summary,
)
from service.services.feedback import on_approval_status_changed
from service.services.inbound import (
    InboundResult,
    inbound_message_receive,
    message_pipeline_run,
    message_pipeline_sweep,
)
from service.services.knowledge import (
    ARTICLE_FIELDS,
    RELEVANCE_FLOOR,
    knowledge_article_create,
    knowledge_article_seed,
    knowledge_article_update,
    knowledge_search,
)
from service.services.refunds import refund_policy_lines, refund_request_close, refund_request_create
from service.services.replies import (
    agent_name,
    case_reply_submit,
    is_upset,
    latest_inbound,
    open_request_cancel,
    references_header,
    reply_context,
    reply_exemplars,
    reply_request_create,
    reply_subject,
    review_flag,
    routing_flags,
    sentiment_context,
)

__all__ = [
    "ARTICLE_FIELDS",
    "CASE_FIELDS",
    "RELEVANCE_FLOOR",
    "THREAD_FOR_SUMMARY",
    "InboundResult",
    "agent_name",
    "case_reply_submit",
    "case_summary_refresh",
    "case_triage_correct",
    "case_update",
    "inbound_message_receive",
    "is_upset",
    "knowledge_article_create",
    "knowledge_article_seed",
    "knowledge_article_update",
    "knowledge_search",
    "latest_inbound",
    "message_pipeline_run",
    "message_pipeline_sweep",
    "on_approval_status_changed",
    "open_request_cancel",
    "references_header",
    "refund_policy_lines",
    "refund_request_close",
    "refund_request_create",
    "reply_context",
    "reply_exemplars",
    "reply_request_create",
    "reply_subject",
    "review_flag",
    "routing_flags",
    "sentiment_context",
    "thread_for_summary",
]
