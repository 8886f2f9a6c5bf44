"""The one periodic schedule (``CELERY_BEAT_SCHEDULE`` in settings) names real tasks on real queues."""

from django.conf import settings

from hitl_crm.celery import app


def _registered() -> set[str]:
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    return set(app.tasks)


def test_every_periodic_entry_names_a_registered_task_on_a_served_queue():
    schedule = settings.CELERY_BEAT_SCHEDULE
    queues = {queue.name for queue in settings.CELERY_TASK_QUEUES}
    registered = _registered()
    unknown = {name: entry["task"] for name, entry in schedule.items() if entry["task"] not in registered}
    assert unknown == {}
    assert {
        entry.get("options", {}).get("queue", settings.CELERY_TASK_DEFAULT_QUEUE) for entry in schedule.values()
    } <= (queues)


def test_the_feature_apps_periodic_work_is_in_the_schedule():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "approvals.tasks.approval_escalate_overdue_task",
        "approvals.tasks.approval_reap_stuck_task",
        "leads.tasks.lead_rescore_dirty_task",
        "leads.tasks.scoring_model_train_task",
        "leads.tasks.lead_rescore_all_task",
        "service.tasks.message_pipeline_sweep_task",
        "marketing.tasks.campaign_dispatch_due_task",
        "marketing.tasks.predictive_retrain_task",
    } <= tasks
