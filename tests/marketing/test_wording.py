"""What marketers and approvers read: the words match what happened."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketing.models import Send
from marketing.services import campaign_submit
from marketing.stats import Arm, verdict_sentence

pytestmark = pytest.mark.django_db


def test_locking_the_shortlist_says_shortlisted(client, marketer, make_campaign):
    campaign = make_campaign(arms=2, lock=False)
    client.force_login(marketer)
    page = client.post(reverse("marketing:campaign_lock", args=[campaign.pk]), follow=True).content.decode()
    assert "Shortlisted. Choose the audience" in page
    assert "Variants approved" not in page


def test_the_campaign_list_calls_a_locked_shortlist_shortlisted(client, marketer, make_campaign):
    make_campaign(arms=2)
    client.force_login(marketer)
    page = client.get(reverse("marketing:campaigns")).content.decode()
    assert "Shortlisted" in page
    assert "Variants approved" not in page


def test_the_approver_reads_the_email_as_the_first_recipient_will(
    client, marketer, colleague, make_campaign, campaign_policy
):
    req = campaign_submit(campaign=make_campaign(arms=2), actor=marketer)
    first = Send.objects.filter(campaign_id=req.final["campaign_id"], phase="test").order_by("pk").first().contact
    client.force_login(colleague)
    page = client.get(reverse("approvals:detail", args=[req.pk])).content.decode()
    assert f"Preview for {first.first_name}" in page
    assert f"Hi {first.first_name}," in page
    assert "{first_name}" not in page


def test_the_sentence_names_every_variant_of_a_three_way_test():
    sentence = verdict_sentence([Arm("A", 50, 1000), Arm("B", 60, 1000), Arm("C", 40, 1000)], needed_per_arm=5000)
    for figure in ("B 6.0%", "A 5.0%", "C 4.0%"):
        assert figure in sentence
    assert "winner" not in sentence
    assert "not significant" in sentence


def test_a_test_that_reached_its_size_without_a_difference_says_so():
    sentence = verdict_sentence([Arm("A", 50, 1000), Arm("B", 55, 1000)], needed_per_arm=1000)
    assert sentence.startswith("No variant is significantly better after 1,000 sends each; pick one or stop the test.")
    assert "winner" not in sentence


def test_a_variant_without_recipients_is_still_mentioned():
    sentence = verdict_sentence([Arm("A", 50, 1000), Arm("B", 60, 1000), Arm("C", 0, 0)])
    assert "C has no recipients yet" in sentence


def test_a_variant_a_person_edited_is_no_longer_labelled_plain_ai(client, marketer):
    from marketing.models import Campaign

    client.force_login(marketer)
    client.post(
        reverse("marketing:campaign_create"),
        {
            "name": "Jackets",
            "brief": "Our new Trailblazer tent sets up in 3 minutes and keeps you dry.",
            "product": "Trailblazer tent",
            "copy_kind": "subject",
            "default_body": "Hi",
        },
    )
    campaign = Campaign.objects.get(name="Jackets")
    client.post(reverse("marketing:campaign_generate", args=[campaign.pk]), {"n": 4}, HTTP_HX_REQUEST="true")
    edited, untouched = list(campaign.variants.order_by("pk"))[:2]
    client.post(
        reverse("marketing:variant_edit", args=[campaign.pk, edited.pk]),
        {"subject": "Warm all winter", "preheader": "", "body": "Hi", "style": edited.style},
        HTTP_HX_REQUEST="true",
    )
    page = client.get(campaign.get_absolute_url()).content.decode()
    assert page.count(">AI, edited</span>") == 1
    assert page.count('class="pill pill-ai">AI</span>') == campaign.variants.count() - 1
