"""hitl_crm.validation: form, serializer and service errors read the same way everywhere."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from rest_framework import serializers

from approvals.exceptions import InvalidPayload
from approvals.registry import Action
from approvals.services import validate_payload
from hitl_crm.validation import ErrorItem, error_items, error_messages, flatten_errors


class _Form(forms.Form):
    amount = forms.IntegerField()
    email = forms.EmailField()

    def clean(self):
        raise ValidationError("Say who pays.")


class _Line(serializers.Serializer):
    amount = serializers.IntegerField(min_value=0)


class _Payload(serializers.Serializer):
    to = serializers.EmailField()
    lines = _Line(many=True)


def test_form_errors_name_each_field_and_the_whole_form():
    form = _Form({"amount": "ten", "email": "nope"})
    assert not form.is_valid()

    assert flatten_errors(form.errors) == {
        "amount": "Enter a whole number.",
        "email": "Enter a valid email address.",
        "non_field_errors": "Say who pays.",
    }


def test_nested_serializer_errors_get_dotted_paths_with_codes():
    serializer = _Payload(data={"to": "x", "lines": [{"amount": 1}, {"amount": -5}]})
    assert not serializer.is_valid()

    assert error_items(serializer.errors) == [
        ErrorItem("to", "Enter a valid email address.", "invalid"),
        ErrorItem("lines[1].amount", "Ensure this value is greater than or equal to 0.", "min_value"),
    ]


def test_a_services_validation_error_with_a_dict_a_list_or_params():
    assert flatten_errors(ValidationError({"email": "Taken.", "score": ["Too high.", "Not a number."]})) == {
        "email": "Taken.",
        "score": "Too high.",
    }
    assert error_messages(ValidationError(["One.", "Two."])) == ["One.", "Two."]
    assert error_items(ValidationError("At most %(n)s rows.", params={"n": 500}, code="max")) == [
        ErrorItem("non_field_errors", "At most 500 rows.", "max")
    ]


def test_approval_payload_errors_use_the_same_paths(db):
    # given
    spec = Action(key="kernel.test", label="Test", serializer=_Payload, handler=lambda *a, **k: None)

    # when
    with pytest.raises(InvalidPayload) as caught:
        validate_payload(spec, {"to": "x", "lines": [{"amount": -1}]}, subject=None, error=InvalidPayload)

    # then
    assert caught.value.errors == {
        "to": "Enter a valid email address.",
        "lines[0].amount": "Ensure this value is greater than or equal to 0.",
    }


def test_the_api_lists_every_message_with_its_field(client, admin_user):
    # given: a lead without the fields the API needs
    client.force_login(admin_user)

    # when
    response = client.post("/api/v1/leads/", {"email": "not-an-email"}, content_type="application/json")

    # then
    assert response.status_code == 400
    assert {"field": "email", "message": "Enter a valid email address.", "code": "invalid"} in response.json()["errors"]
