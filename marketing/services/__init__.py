"""Every change to marketing data goes through here, whoever calls: UI, API, tasks, handlers, shell.

Campaign states change only here, under ``select_for_update`` with a re-check of the state, and
each change is audited in the same transaction. Sending itself lives in ``marketing.delivery``;
the approval handler lives in ``marketing.handlers`` and calls :func:`campaign_release_phase`.

The services live by sub-domain and are all importable from here:

* ``campaigns`` — building a campaign, submitting it, the winner, cancelling;
* ``variants`` — AI and human copy variants and the shortlist;
* ``sending`` — releasing an approved phase, the dispatch beat, finishing a phase;
* ``tracking`` — opens, clicks, unsubscribes, conversions, the suppression list;
* ``segments`` — saved audiences;
* ``training`` — predictive models and scores;
* ``contacts`` — importing customers with attributes.

One way to refuse, one way to fail: write services take ``actor`` and check it with
:func:`hitl_crm.permissions.require_permission` (``PermissionDenied``: 403 in the API, the 403
page in the UI); a state conflict is :class:`hitl_crm.errors.InvalidState` (409 in the API, a
message in the UI); bad input is Django's ``ValidationError`` (400 naming the field).
System entry points take no actor and act as the system: :func:`campaign_release_phase` (the
approvals executor), :func:`on_approval_status_changed` (approvals feedback),
:func:`campaign_phase_check_finished` and :func:`campaign_dispatch_due` (tasks and beat),
:func:`send_record_open`, :func:`send_record_click` and :func:`send_unsubscribe` (the public
signed links), :func:`predictive_model_train`, :func:`contact_scores_refresh` and
:func:`predictive_retrain` (beat, commands), :func:`contacts_import_attributes` (a command).
"""

from __future__ import annotations

from hitl_crm.errors import InvalidState
from marketing.services._common import AUDIENCE_FIELDS, COPY_FIELDS, VARIANT_FIELDS, Status
from marketing.services.campaigns import (
    campaign_cancel,
    campaign_confirm_winner,
    campaign_create,
    campaign_lock_variants,
    campaign_submit,
    campaign_unlock_variants,
    campaign_update,
    on_approval_status_changed,
)
from marketing.services.contacts import contacts_import_attributes
from marketing.services.segments import SEGMENT_FIELDS, segment_create, segment_delete, segment_update
from marketing.services.sending import (
    STALL_MINUTES,
    campaign_dispatch_due,
    campaign_phase_check_finished,
    campaign_release_phase,
)
from marketing.services.tracking import (
    conversion_record,
    send_record_click,
    send_record_open,
    send_unsubscribe,
    suppression_add,
)
from marketing.services.training import contact_scores_refresh, predictive_model_train, predictive_retrain
from marketing.services.variants import campaign_generate_variants, variant_create, variant_set_status, variant_update

__all__ = [
    "AUDIENCE_FIELDS",
    "COPY_FIELDS",
    "SEGMENT_FIELDS",
    "STALL_MINUTES",
    "VARIANT_FIELDS",
    "InvalidState",
    "Status",
    "campaign_cancel",
    "campaign_confirm_winner",
    "campaign_create",
    "campaign_dispatch_due",
    "campaign_generate_variants",
    "campaign_lock_variants",
    "campaign_phase_check_finished",
    "campaign_release_phase",
    "campaign_submit",
    "campaign_unlock_variants",
    "campaign_update",
    "contact_scores_refresh",
    "contacts_import_attributes",
    "conversion_record",
    "on_approval_status_changed",
    "predictive_model_train",
    "predictive_retrain",
    "segment_create",
    "segment_delete",
    "segment_update",
    "send_record_click",
    "send_record_open",
    "send_unsubscribe",
    "suppression_add",
    "variant_create",
    "variant_set_status",
    "variant_update",
]
