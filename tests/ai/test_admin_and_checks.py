import pytest
from django.core.management import call_command

from hitl_crm.ai.checks import check_ai_settings
from hitl_crm.ai.engine import run
from hitl_crm.ai.models import AiRun, TrainedModel
from hitl_crm.ai.services import intent_example_add, intent_model_train
from tests.ai.synthetic import examples

pytestmark = pytest.mark.django_db


def test_reviewers_see_what_the_ai_saw_escaped_and_read_only(client, admin_user):
    # given
    result = run("triage", {"text": "<script>alert(1)</script> where is my order? mail me at bob@customer.example"})
    client.force_login(admin_user)
    # when
    listing = client.get("/admin/ai/airun/", {"skill": "triage", "status": "ok"})
    detail = client.get(f"/admin/ai/airun/{result.run.pk}/change/")
    # then
    assert listing.status_code == 200
    assert f"/admin/ai/airun/{result.run.pk}/change/" in listing.content.decode()
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "[EMAIL_1]" in page
    assert "bob@customer.example" not in page.split("What the AI saw")[1].split("Output")[0]
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert client.get("/admin/ai/airun/add/").status_code == 403


def test_support_agents_may_view_ai_runs(support_agent, manager):
    assert support_agent.has_perm("ai.view_airun")
    assert not support_agent.has_perm("ai.change_trainedmodel")
    assert manager.has_perm("ai.change_trainedmodel")
    assert manager.has_perm("ai.add_intentexample")


def test_admin_lists_trained_models_with_their_metrics_and_activates_one(client, admin_user):
    for text, intent, category in examples(per_intent=10):
        intent_example_add(text=text, intent=intent, category=category)
    first = intent_model_train()
    second = intent_model_train()
    client.force_login(admin_user)
    listing = client.get("/admin/ai/trainedmodel/").content.decode()
    assert f"/admin/ai/trainedmodel/{first.pk}/change/" in listing
    assert f"/admin/ai/trainedmodel/{second.pk}/change/" in listing
    assert f'<td class="field-holdout_macro_f1">{first.metrics["holdout"]["macro_f1"]:.3f}</td>' in listing
    detail = client.get(f"/admin/ai/trainedmodel/{first.pk}/change/").content.decode()
    assert "TF-IDF features" in detail
    # the figures stored for this version, not just their names
    assert f"&quot;macro_f1&quot;: {first.metrics['holdout']['macro_f1']}" in detail
    client.post("/admin/ai/trainedmodel/", {"action": "activate", "_selected_action": [first.pk]})
    assert TrainedModel.objects.get(active=True).pk == first.pk


def test_system_checks_catch_bad_ai_settings(settings, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings.HITL_CRM_AI = {
        "skills": {
            "poetry": {"backend": "offline"},
            "triage": {"backend": "no.such.Backend"},
            "summarize": {"backend": "openai", "timeout": 0},
            "draft_reply": {"backend": "openai", "model": "gpt-x", "colour": "blue"},
        }
    }
    ids = {m.id for m in check_ai_settings(None)}
    assert {"ai.E002", "ai.E003", "ai.E004", "ai.E005", "ai.W002"} <= ids
    settings.HITL_CRM_AI = {"default": {"backend": "offline"}}
    assert check_ai_settings(None) == []


def test_the_checks_run_under_manage_py_check(settings):
    settings.HITL_CRM_AI = "offline please"
    with pytest.raises(Exception, match="ai.E001"):
        call_command("check")
    assert not AiRun.objects.exists()
