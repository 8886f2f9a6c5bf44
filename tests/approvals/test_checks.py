import pytest
from rest_framework import serializers

from approvals.checks import check_actions, check_settings
from approvals.registry import Action, register, unregister


class _Payload(serializers.Serializer):
    text = serializers.CharField(max_length=10)


def _ids(messages):
    return sorted(m.id for m in messages)


def _about(key, messages):
    return [m for m in messages if repr(key) in m.msg]


def test_the_built_in_action_and_default_settings_pass():
    assert _about("approvals.notify_email", check_actions(None)) == []
    assert check_settings(None) == []


def test_a_broken_action_is_reported():
    register(
        Action(
            key="tests.broken",
            label="Broken",
            serializer=_Payload,
            handler=lambda r, p: {},
            editable_fields=("text", "nope"),
            template="does/not/exist.html",
            amount_field="amount",
        )
    )
    try:
        assert _ids(_about("tests.broken", check_actions(None))) == [
            "approvals.E003",
            "approvals.E004",
            "approvals.E005",
        ]
    finally:
        unregister("tests.broken")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"HITL_CRM_SITE_URL": "crm.example.com"}, ["approvals.E006"]),
        ({"HITL_CRM_APPROVALS_MAX_ATTEMPTS": 0}, ["approvals.E007"]),
        ({"HITL_CRM_APPROVALS_EXECUTION_LEASE_SECONDS": 60, "CELERY_TASK_TIME_LIMIT": 180}, ["approvals.E008"]),
        ({"CELERY_TASK_ALWAYS_EAGER": False, "CELERY_TASK_REJECT_ON_WORKER_LOST": False}, ["approvals.E009"]),
    ],
)
def test_bad_settings_are_reported(settings, overrides, expected):
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert _ids(check_settings(None)) == expected
