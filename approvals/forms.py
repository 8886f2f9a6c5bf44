"""Forms for the review UI. Rules live in the services; these only shape the input."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from approvals.models import ApprovalRequest, Decision
from approvals.selectors import approval_money

LONG_TEXT = 120  # strings longer than this (or with line breaks) get a textarea


class QueueFilterForm(forms.Form):
    AGE_CHOICES = [("", "Any age"), ("1h", "Older than 1 hour"), ("1d", "Older than 1 day"), ("overdue", "Overdue")]

    action = forms.ChoiceField(required=False)
    risk = forms.ChoiceField(required=False, choices=[("", "Any risk"), *ApprovalRequest.Risk.choices])
    age = forms.ChoiceField(required=False, choices=AGE_CHOICES)
    STATE_CHOICES = [("", "Any state"), ("overdue", "Overdue"), ("escalated", "Escalated")]
    ORDER_CHOICES = [
        ("", "Overdue, then riskiest"),
        ("due", "Due first"),
        ("risk", "Riskiest first"),
        ("newest", "Newest first"),
    ]

    state = forms.ChoiceField(required=False, choices=STATE_CHOICES)
    sort = forms.ChoiceField(required=False, choices=ORDER_CHOICES, label="Order")
    # ``?order=`` (the column headers) is the same as ``?sort=`` (the select); ``order`` wins.
    order = forms.ChoiceField(required=False, choices=ORDER_CHOICES[1:] + [("priority", "Priority")])

    def __init__(self, *args: Any, actions: list, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        action = cast(forms.ChoiceField, self.fields["action"])  # declared above; ``fields`` holds base Fields
        action.choices = [("", "All actions"), *[(a.key, a.label) for a in actions]]

    def chosen_order(self) -> str:
        """The queue order the reviewer picked (``priority`` unless they chose another)."""
        if not self.is_valid():
            return "priority"
        return self.cleaned_data.get("order") or self.cleaned_data.get("sort") or "priority"


class DecisionForm(forms.Form):
    """One reviewer's verdict plus an input per editable payload field (``edit_<name>``)."""

    APPROVE_AND_NEXT = "approve_next"
    CONFIRM_RISKS = (ApprovalRequest.Risk.HIGH, ApprovalRequest.Risk.CRITICAL)

    verdict = forms.ChoiceField(
        choices=[
            (Decision.Verdict.APPROVE, "Approve"),
            (APPROVE_AND_NEXT, "Approve and next"),
            (Decision.Verdict.REJECT, "Reject"),
            (Decision.Verdict.REQUEST_CHANGES, "Request changes"),
        ]
    )
    reason = forms.ChoiceField(required=False, choices=[("", "Why? (required to reject)"), *Decision.Reason.choices])
    comment = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    # The version the reviewer is looking at: a decision applies only to that payload.
    payload_hash = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={"required": "The page did not say which version you reviewed; reload it and decide again."},
    )

    confirmed = forms.BooleanField(required=False, label="I checked the amount/recipient")
    # The queue order the reviewer came from, so "Approve and next" follows it.
    order = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20)

    def __init__(self, *args: Any, req: ApprovalRequest, needs_confirmation: bool | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.req = req
        self.fields["payload_hash"].initial = req.payload_hash
        self.needs_confirmation = (
            needs_confirmation
            if needs_confirmation is not None
            else req.risk in self.CONFIRM_RISKS or req.amount is not None or approval_money(request=req) is not None
        )
        for name in req.action_spec.editable_fields:
            value = (req.final or {}).get(name, "")
            long = isinstance(value, str) and (len(value) > LONG_TEXT or "\n" in value)
            widget = forms.Textarea(attrs={"rows": 10 if long else 3}) if long else forms.TextInput()
            self.fields[f"edit_{name}"] = forms.CharField(
                label=name.replace("_", " ").capitalize(), required=False, initial=value, widget=widget, strip=False
            )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what Form.clean returns; its stub allows None for overrides
        data["then_next"] = data.get("verdict") == self.APPROVE_AND_NEXT
        if data["then_next"]:
            data["verdict"] = Decision.Verdict.APPROVE
        if data.get("verdict") == Decision.Verdict.APPROVE and self.needs_confirmation and not data.get("confirmed"):
            self.add_error(
                "confirmed",
                "This item is high-risk or moves money: tick “I checked the amount/recipient” and approve again.",
            )
        if data.get("verdict") == Decision.Verdict.REJECT and not data.get("reason"):
            self.add_error("reason", "Pick a reason: it tells the AI what went wrong.")
        if data.get("verdict") == Decision.Verdict.REQUEST_CHANGES and not data.get("comment"):
            self.add_error("comment", "Say what should change.")
        return data

    def edits(self) -> dict[str, Any]:
        """The editable fields whose value differs from the current payload (typed like the original)."""
        changed = {}
        for name in self.req.action_spec.editable_fields:
            raw = self.cleaned_data.get(f"edit_{name}")
            original = (self.req.final or {}).get(name)
            if raw is None:
                continue
            value: Any = raw
            if isinstance(original, str):
                value = raw.replace("\r\n", "\n")
            if value != ("" if original is None else str(original) if not isinstance(original, str) else original):
                changed[name] = value
        return changed

    def field_pairs(self) -> list[tuple[str, forms.BoundField]]:
        return [(name, self[f"edit_{name}"]) for name in self.req.action_spec.editable_fields]


class _QueueItemsField(forms.MultipleChoiceField):
    """Ticked queue rows, each ``<id>:<payload_hash>`` (the choices are whatever the page showed)."""

    def valid_value(self, value: Any) -> bool:
        pk, sep, digest = str(value).partition(":")
        return bool(sep) and pk.isdigit() and 0 < len(digest) <= 64


class BulkDecisionForm(forms.Form):
    """ "Approve selected" / "Reject selected" on the queue: ``items`` are ``<id>:<payload_hash>``
    as shown on the page, so each decision names the version the reviewer saw."""

    verdict = forms.ChoiceField(
        choices=[(Decision.Verdict.APPROVE, "Approve selected"), (Decision.Verdict.REJECT, "Reject selected")],
        error_messages={"required": "Choose “Approve selected” or “Reject selected”."},
    )
    items = _QueueItemsField(
        required=False, error_messages={"invalid_choice": "The selection was not understood; reload the queue."}
    )
    reason = forms.ChoiceField(
        required=False, label="Reason", choices=[("", "Why? (required to reject)"), *Decision.Reason.choices]
    )
    # The queue's filters and page, to come back to the same view.
    back = forms.CharField(required=False, widget=forms.HiddenInput, max_length=1000)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get("items") and "items" not in self.errors:
            self.add_error("items", "Tick the items to decide first.")
        if data.get("verdict") == Decision.Verdict.REJECT and not data.get("reason"):
            self.add_error("reason", "Pick a reason to reject the selected items.")
        return data

    def pairs(self) -> list[tuple[int, str]]:
        """``(request_id, payload_hash)`` for each ticked row."""
        out = []
        for value in self.cleaned_data.get("items") or []:
            pk, _sep, digest = value.partition(":")
            out.append((int(pk), digest))
        return out
