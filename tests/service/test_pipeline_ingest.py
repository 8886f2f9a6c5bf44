"""``ingest_mail`` with a message the AI pipeline cannot handle in the middle of a batch: that one is
reported and handed to a person, the others go through."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from approvals.models import ApprovalRequest
from hitl_crm.ai.models import AiRun
from service.models import Case
from service.routing import SEND_REPLY
from tests.service.test_inbound import eml
from tests.service.test_pipeline import RECORDING


@RECORDING
@pytest.mark.django_db(transaction=True)
def test_a_batch_of_three_goes_on_past_a_message_the_pipeline_cannot_handle(desk, tmp_path, monkeypatch):
    # given: three customers; the AI answers the second with a draft no approval accepts, and the
    # engine's own bounds are out of the way so the refusal happens where it used to crash the batch
    monkeypatch.setattr("hitl_crm.ai.engine.bounds_errors", lambda skill, output: [])
    for n, (who, body) in enumerate(
        [
            ("ada@one.example", "Where is order NW-10001?"),
            ("bo@two.example", "LONG-DRAFT Where is order NW-10002?"),
            ("cy@three.example", "Where is order NW-10003?"),
        ],
        start=1,
    ):
        (tmp_path / f"{n}.eml").write_bytes(eml(sender=who, body=body, Message_ID=f"<batch-{n}@mail.example>"))
    out = StringIO()

    # when: the pipeline runs after each message commits (eager tasks, as without a broker)
    call_command("ingest_mail", str(tmp_path), stdout=out)

    # then: all three stored; the first and third drafted; the second reported and waiting for a person
    output = out.getvalue()
    assert "Read 3 message(s): 3 new case(s)" in output
    assert "1 handed to a person" in output
    assert f"needs a person {tmp_path / '2.eml'}" in output
    assert "The AI's draft reply could not be used" in output
    for who in ("ada@one.example", "cy@three.example"):
        case = Case.objects.get(contact__email=who)
        assert ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(case.pk), status="pending").exists()
        assert not case.needs_human
    bad = Case.objects.get(contact__email="bo@two.example")
    assert bad.needs_human
    assert not ApprovalRequest.objects.filter(action=SEND_REPLY, object_id=str(bad.pk)).exists()
    assert AiRun.objects.get(skill="draft_reply", subject_id=str(bad.pk)).status == AiRun.Status.INVALID
