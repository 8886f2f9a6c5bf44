"""Forms of the policy admin: the policy itself and the routing preview ("Try a request").

The action is a choice of the registered actions, so a policy cannot be saved for a key no
app provides; a policy whose app was removed still opens, showing its key as not
registered. The preview only collects a request's routing facts: the matching itself is
``approvals.policies.policy_match``, the gate's own function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from approvals.models import ApprovalPolicy, Risk
from approvals.registry import all_actions
from hitl_crm.money import CURRENCY_CHOICES, Money, MoneyError, UnknownCurrency, currency_code

NOT_REGISTERED = "{key} (not registered)"


def action_label(key: str, label: str) -> str:
    return f"{label} ({key})"


def registered_action_choices() -> list[tuple[str, str]]:
    """The registry's actions as ``(key, "Label (key)")``, read when a form is built (apps register late)."""
    return [(action.key, action_label(action.key, action.label)) for action in all_actions()]


class CurrencyField(forms.ChoiceField):
    """A select of the ISO 4217 codes the kernel knows; typed input is upper-cased and checked by the kernel."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("choices", CURRENCY_CHOICES)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return str(value or "").strip().upper()

    def validate(self, value: Any) -> None:
        if value in self.empty_values:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return
        try:
            currency_code(value)
        except UnknownCurrency as exc:
            raise forms.ValidationError(str(exc), code="unknown_currency") from None


class ApprovalPolicyForm(forms.ModelForm):
    """The policy change form: a registered action, a known currency, an amount range that is a range."""

    action = forms.ChoiceField(
        help_text="What the policy routes: one of the actions the installed apps register.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a registered approval action. Choose one of the list "
            "(an action appears once the app that provides it is installed)."
        },
    )
    currency = CurrencyField(
        initial="USD",
        help_text="ISO 4217 currency of the amount range. Amounts in another currency are converted with the "
        "exchange-rate table; a currency without a rate is refused.",
    )

    class Meta:
        model = ApprovalPolicy
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = registered_action_choices()
        stored = self.instance.action if self.instance.pk else ""
        if stored and stored not in dict(choices):
            # The app that provided it is gone: keep the policy editable (e.g. to deactivate it).
            choices.append((stored, NOT_REGISTERED.format(key=stored)))
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = [("", "---------"), *choices]
        currency = self.instance.currency or "USD"
        for name, bound in (("min_amount", "at least"), ("max_amount", "at most")):
            if name in self.fields:
                self.fields[
                    name
                ].help_text = (
                    f"Applies when the amount, in the policy's currency (now {currency}), is {bound} this (inclusive)."
                )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_amount"), cleaned.get("max_amount")
        if low is not None and high is not None and low > high:
            self.add_error("max_amount", "The maximum must be at least the minimum.")
        return cleaned


@dataclass(frozen=True)
class TrialRequest:
    """The routing facts of a request the admin tries (what the gate routes on)."""

    action: str
    money: Money | None
    risk: str
    category: str
    vip: bool
    negative_sentiment: bool

    def context(self) -> dict[str, Any]:
        """The request context as the gate normalises it (amount as a string, known currency)."""
        ctx: dict[str, Any] = {"category": self.category[:60], "vip": self.vip}
        if self.money is not None:
            ctx["amount"] = str(self.money.amount)
            ctx["currency"] = self.money.currency
        if self.negative_sentiment:
            ctx["sentiment"] = "negative"
        return ctx


class RoutingPreviewForm(forms.Form):
    """ "Try a request": an action, an amount with its currency, risk, category, VIP, sentiment."""

    action = forms.ChoiceField(
        error_messages={"invalid_choice": "“%(value)s” is not a registered approval action."},
    )
    amount = forms.CharField(
        required=False,
        max_length=30,
        help_text="E.g. 1,200.00. Empty: a request without an amount (policies with an amount range do not match).",
    )
    currency = CurrencyField(initial="USD", help_text="The currency of the amount.")
    risk = forms.ChoiceField(choices=Risk.choices, initial=Risk.LOW)
    category = forms.CharField(required=False, max_length=60, help_text="Category / intent, e.g. refund.")
    vip = forms.BooleanField(required=False, label="VIP customer")
    negative_sentiment = forms.BooleanField(required=False, label="Negative sentiment")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        action_field = self.fields["action"]
        assert isinstance(action_field, forms.ChoiceField)
        action_field.choices = registered_action_choices()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw, currency = (cleaned.get("amount") or "").strip(), cleaned.get("currency")
        cleaned["money"] = None
        if raw and currency:
            try:
                money = Money.of(raw, currency)
            except MoneyError:
                self.add_error("amount", f"“{raw}” is not an amount; write it like 1,200.00.")
            else:
                if money.amount < 0:
                    self.add_error("amount", "An amount cannot be negative.")
                else:
                    cleaned["money"] = money
        return cleaned

    def trial(self) -> TrialRequest:
        data = self.cleaned_data
        return TrialRequest(
            action=data["action"],
            money=data["money"],
            risk=data["risk"],
            category=(data.get("category") or "").strip(),
            vip=bool(data.get("vip")),
            negative_sentiment=bool(data.get("negative_sentiment")),
        )
