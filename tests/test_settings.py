"""The settings module as a deployment sees it: run in subprocesses with a clean environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "hitl_crm.settings",
    "DEBUG": "false",
    "SECRET_KEY": "k9$Vx2!pQ7zR4mW8nT1bY6cH3jL5sD0fG9aE2uI7oP4rK8vX1qZ",
    "ALLOWED_HOSTS": "crm.example.com",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "HITL_CRM_AUDIT_KEY": "a7Qm2Zr9Lx4Tw8Kc1Vb6Hn3Jd5Sf0Gp9",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_tasks_would_run_eagerly_in_production():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "CELERY_BROKER_URL"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "web.W001" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_a_bad_boolean_setting_is_named():
    result = manage("check", env={**PRODUCTION_ENV, "DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_eager_mode_is_logged_once_at_start_up():
    result = manage("check", env={"DEBUG": "true", "LOG_FORMAT": "text"})
    assert result.stderr.count("CELERY_BROKER_URL is not set") == 1


def test_production_logs_are_json_lines():
    result = manage("check", env={**PRODUCTION_ENV, "LOG_LEVEL": "DEBUG", "CELERY_BROKER_URL": ""})
    json_lines = [line for line in result.stderr.splitlines() if line.startswith("{")]
    assert json_lines, result.stderr
    import json

    record = json.loads(json_lines[0])
    assert {"time", "level", "logger", "message"} <= set(record)


@pytest.mark.django_db
def test_models_and_migrations_agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
