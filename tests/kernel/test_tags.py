import pytest
from django.core.exceptions import ValidationError

from hitl_crm.tags import MAX_TAGS, TagsFormField, normalize_tags, tags_text


def test_tags_are_trimmed_lower_cased_and_deduplicated_in_order():
    assert normalize_tags(" VIP, school ,, vip ,  Back  to   school") == ["vip", "school", "back to school"]
    assert normalize_tags(None) == []
    assert normalize_tags(["Rush", "rush"]) == ["rush"]


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("x" * 31, "longer than 30"),
        ("vip, <b>", "only letters"),
        (",".join(f"t{i}" for i in range(MAX_TAGS + 1)), f"At most {MAX_TAGS}"),
    ],
)
def test_a_bad_tag_is_refused_with_a_sentence_naming_it(raw, says):
    with pytest.raises(ValidationError) as caught:
        normalize_tags(raw)
    assert says in " ".join(caught.value.messages)


def test_the_form_field_reads_one_line_and_shows_the_list_as_one_line():
    field = TagsFormField()
    assert field.clean("Camping, VIP") == ["camping", "vip"]
    assert field.clean("") == []
    assert field.prepare_value(["camping", "vip"]) == tags_text(["camping", "vip"]) == "camping, vip"
    with pytest.raises(ValidationError):
        field.clean("ok, no/slashes")
