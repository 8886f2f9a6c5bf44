"""``manage.py ingest_mail``: .eml files, folders and mbox files; a summary; malformed mail reported."""

from __future__ import annotations

import mailbox
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from approvals.models import ApprovalRequest
from service.models import Case, Message
from tests.service.test_inbound import eml

pytestmark = pytest.mark.django_db


def _run(*paths) -> str:
    out = StringIO()
    call_command("ingest_mail", *[str(p) for p in paths], stdout=out)
    return out.getvalue()


def test_a_folder_of_eml_files_and_an_mbox_become_cases(desk, tmp_path, django_capture_on_commit_callbacks):
    # given: a folder with a new message, a reply to it and a broken file; and an mbox with two more
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "1.eml").write_bytes(eml(Message_ID="<one@mail.example>"))
    (folder / "2.eml").write_bytes(
        eml(
            subject="Re: Where is my order?",
            body="Any news?",
            Message_ID="<two@mail.example>",
            In_Reply_To="<one@mail.example>",
        )
    )
    (folder / "3.eml").write_bytes(eml(sender="", Message_ID="<three@mail.example>"))
    box = mailbox.mbox(str(tmp_path / "archive.mbox"))
    box.add(
        eml(
            sender="Kwame Mensah <kwame@newcustomer.example>",
            subject="Boot sizing",
            body="Between a 9 and a 9.5, which should I order?",
            Message_ID="<four@mail.example>",
        )
    )
    box.add(eml(Message_ID="<one@mail.example>"))  # the same message as 1.eml
    box.flush()
    box.close()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        output = _run(folder, tmp_path / "archive.mbox")

    # then: a summary a person can act on, and cases that went through the pipeline
    assert (
        "Read 5 message(s): 2 new case(s), 1 threaded into existing cases, 1 duplicate(s) skipped, 1 malformed."
        in output
    )
    assert "malformed" in output
    assert "3.eml: from: there is no sender address." in output
    assert Case.objects.count() == 2
    assert Message.objects.count() == 3
    kwame = Case.objects.get(contact__email="kwame@newcustomer.example")
    assert kwame.intent
    assert ApprovalRequest.objects.filter(object_id=str(kwame.pk)).exists()


def test_running_it_again_changes_nothing(desk, tmp_path, django_capture_on_commit_callbacks):
    (tmp_path / "1.eml").write_bytes(eml(Message_ID="<one@mail.example>"))
    with django_capture_on_commit_callbacks(execute=True):
        _run(tmp_path)
    before = (Case.objects.count(), Message.objects.count(), ApprovalRequest.objects.count())

    with django_capture_on_commit_callbacks(execute=True):
        output = _run(tmp_path)

    assert "0 new case(s), 0 threaded into existing cases, 1 duplicate(s) skipped" in output
    assert (Case.objects.count(), Message.objects.count(), ApprovalRequest.objects.count()) == before


def test_it_fails_only_when_nothing_could_be_read(desk, tmp_path):
    (tmp_path / "broken.eml").write_bytes(b"not an email at all")

    with pytest.raises(CommandError, match="Nothing could be read"):
        _run(tmp_path / "broken.eml", tmp_path / "missing.eml")
    assert not Message.objects.exists()
