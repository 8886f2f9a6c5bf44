"""Earned autonomy: when the numbers allow, a policy approves routine requests itself.

A request is auto-approved only when all of these hold:

- its policy has autopilot enabled (off by default) and the global switch is on;
- its risk is below high and no flag asks for a human (flags of severity "info" do not, unless
  they are about money, a commitment, personal data or an injection attempt);
- its payload states no money or commitment (an amount, a discount, a refund …);
- its confidence is at least the policy's threshold;
- over the policy's window, for the same action and category, at least ``min_samples``
  human decisions exist and the Wilson 95% lower bound of "approved without edits" is
  at least the policy's target;
- its deterministic spot-check draw is not below the spot-check share.

Acceptance counts human decisions only, so the autopilot never feeds on its own output.
When the bound falls below the target the policy is demoted at once (audited with the
numbers) and requests go to humans until the humans' record earns it back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from approvals.audit import audit_record
from approvals.conf import app_settings
from approvals.models import RISK_ORDER, ApprovalPolicy, ApprovalRequest, AutopilotState, Decision, Risk
from hitl_crm.ai.guards import COMMITMENT_CODES, PERSONAL_DATA_CODES
from hitl_crm.stats import wilson_lower


def spot_check_draw(request_id: int) -> float:
    """A number in [0, 1) fixed per request, so spot checks are reproducible and auditable."""
    digest = hashlib.sha256(f"approvals.spot-check:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


#: Flags that keep a request away from the autopilot whatever their severity: money or a
#: commitment is at stake, someone's personal data is, or the text addressed the AI.
NEVER_AUTOPILOT = (
    COMMITMENT_CODES
    | PERSONAL_DATA_CODES
    | frozenset({"refund_pending", "refund_injection", "prompt_injection", "ai_failed"})
)
#: Severities that do not, on their own, ask for a person.
QUIET_SEVERITIES = frozenset({"info"})


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _texts(item)]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _texts(item)]
    return []


def commitment_in_payload(payload: Any) -> str:
    """The first money or commitment span in the payload's text ("" if none): an amount, a
    percentage, a discount, a code, something free, a price claim, a refund done or promised."""
    from hitl_crm.ai.guards import commitment_spans

    for text in _texts(payload):
        spans = commitment_spans(text)
        if spans:
            return spans[0]
    return ""


def blocking_reason(req: ApprovalRequest) -> str:
    """Why this request must go to a human whatever the statistics say ("" if nothing does).

    Risk high or above; any flag of a severity other than "info" (medium and above included,
    an unknown severity too); any money, commitment, personal-data or injection flag whatever its
    severity; and any money or commitment written in the payload itself, flagged or not."""
    try:
        level = RISK_ORDER.get(Risk(req.risk), RISK_ORDER[Risk.HIGH])
    except ValueError:
        level = RISK_ORDER[Risk.HIGH]  # an unknown risk is treated as high
    if level >= RISK_ORDER[Risk.HIGH]:
        return f"risk is {req.risk}"
    flags = [f for f in req.flags or [] if isinstance(f, dict)]
    never = sorted({str(f.get("code")) for f in flags if f.get("code") in NEVER_AUTOPILOT})
    if never:
        return "flagged: " + ", ".join(never)
    serious = [str(f.get("code", "?")) for f in flags if f.get("severity", "warning") not in QUIET_SEVERITIES]
    if serious:
        return "flagged: " + ", ".join(sorted(set(serious)))
    span = commitment_in_payload(req.final if req.final else req.proposal)
    if span:
        return f"the payload states money or a commitment ({span[:60]})"
    return ""


@dataclass
class Evaluation:
    approve: bool
    reason: str
    stats: dict[str, Any] = field(default_factory=dict)


def autopilot_refresh(*, policy: ApprovalPolicy, action: str, category: str) -> tuple[bool, dict[str, Any]]:
    """Recompute whether autopilot holds for (policy, category); audit a promotion or a demotion."""
    now = timezone.now()
    window = policy.autopilot_window_days
    counts = Decision.objects.filter(
        is_autopilot=False,
        undone_at__isnull=True,
        request__action=action,
        request__category=category,
        created_at__gte=now - timedelta(days=window),
    ).aggregate(samples=Count("id"), accepted=Count("id", filter=Q(verdict=Decision.Verdict.APPROVE)))
    samples, accepted = counts["samples"], counts["accepted"]
    lower = wilson_lower(accepted, samples)
    stats = {
        "acceptance": round(accepted / samples, 4) if samples else 0.0,
        "accepted": accepted,
        "samples": samples,
        "wilson_lower": round(lower, 4),
        "target": policy.autopilot_target,
        "min_samples": policy.autopilot_min_samples,
        "window_days": window,
    }
    qualified = samples >= policy.autopilot_min_samples and lower >= policy.autopilot_target
    state, _ = AutopilotState.objects.select_for_update().get_or_create(policy=policy, category=category)
    if state.active != qualified:
        if qualified:
            verb, why = (
                "autopilot_promoted",
                (
                    f"lower bound {stats['wilson_lower']:.3f} ≥ target {policy.autopilot_target:.3f} "
                    f"over {samples} decisions"
                ),
            )
        elif samples < policy.autopilot_min_samples:
            verb = "autopilot_demoted"
            why = f"only {samples} decisions in {window} days (needs {policy.autopilot_min_samples})"
        else:
            verb, why = (
                "autopilot_demoted",
                (f"lower bound {stats['wilson_lower']:.3f} fell below target {policy.autopilot_target:.3f}"),
            )
        state.active = qualified
        state.changed_at = now
        audit_record(
            verb=verb,
            autopilot=True,
            data={"policy": policy.pk, "action": action, "category": category, "why": why, **stats},
        )
    state.stats = stats
    state.save(update_fields=["active", "changed_at", "stats"])
    return qualified, stats


def autopilot_evaluate(*, req: ApprovalRequest, policy: ApprovalPolicy | None) -> Evaluation | None:
    """Decide whether ``req`` may skip the human queue. ``None`` when autopilot does not apply."""
    if policy is None or not policy.autopilot_enabled or not app_settings.AUTOPILOT:
        return None
    qualified, stats = autopilot_refresh(policy=policy, action=req.action, category=req.category)
    draw = spot_check_draw(req.pk)
    stats = {
        "confidence": req.confidence,
        "threshold": policy.autopilot_confidence,
        **stats,
        "spot_check_share": policy.autopilot_spot_check,
        "spot_check_draw": round(draw, 6),
    }
    blocked = blocking_reason(req)
    if blocked:
        return Evaluation(False, blocked, stats)
    if req.confidence is None or req.confidence < policy.autopilot_confidence:
        return Evaluation(False, "confidence below the policy's threshold", stats)
    if not qualified:
        if stats["samples"] < policy.autopilot_min_samples:
            return Evaluation(False, "not enough human decisions yet", stats)
        return Evaluation(False, "acceptance lower bound below target", stats)
    if draw < policy.autopilot_spot_check:
        return Evaluation(False, "spot check", stats)
    return Evaluation(True, "qualified", stats)
