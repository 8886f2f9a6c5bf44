"""The kernel's error types and choices are the ones the apps use."""

import pytest

from approvals import exceptions as approval_errors
from approvals.models import RISK_ORDER as APPROVAL_RISK_ORDER
from approvals.models import ApprovalPolicy, ApprovalRequest
from approvals.models import Risk as ApprovalRisk
from hitl_crm import errors
from hitl_crm.ai.models import AiRun
from hitl_crm.choices import RISK_ORDER, Risk


@pytest.mark.parametrize(
    "error",
    [
        approval_errors.InvalidState,
        approval_errors.AlreadyOpen,
        approval_errors.ExecutionInProgress,
        approval_errors.PayloadConflict,
    ],
)
def test_approvals_state_errors_are_the_kernels(error):
    # a generic handler for "not in this state" catches the approvals' errors too
    with pytest.raises(errors.InvalidState):
        raise error()
    assert issubclass(error, approval_errors.ApprovalError)


def test_approvals_state_errors_keep_their_messages():
    assert str(approval_errors.InvalidState()) == "This request can no longer be changed."
    assert str(approval_errors.AlreadyOpen()) == "An open approval request for this already exists."
    assert str(approval_errors.InvalidState("Already executed.")) == "Already executed."
    assert approval_errors.InvalidState("Already executed.").message == "Already executed."


def test_one_risk_scale_everywhere():
    assert ApprovalRisk is Risk
    assert AiRun.Risk is Risk
    assert ApprovalRequest.Risk is Risk
    assert APPROVAL_RISK_ORDER is RISK_ORDER
    assert [value for value, _ in ApprovalRequest._meta.get_field("risk").choices] == list(Risk.values)
    assert [value for value, _ in AiRun._meta.get_field("risk").choices] == ["low", "medium", "high", "critical"]
    assert ApprovalPolicy._meta.get_field("min_risk").choices == Risk.choices
