"""HTMX list pages restore whole pages from history; a signed-out HTMX request gets a 401 it can act on;
CSRF failures and bookmarked action URLs end on a page a person can use; no template carries inline
styles or scripts (the CSP would block them)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.test import Client

from approvals.templatetags.approvals_ui import confidence_meter

pytestmark = pytest.mark.django_db

LIST_PAGES = ["/service/", "/approvals/", "/leads/", "/contacts/"]
HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
NAV = b'<nav class="nav"'


@pytest.fixture
def boss_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize("url", LIST_PAGES)
def test_a_filter_request_gets_the_results_only(boss_client, url):
    response = boss_client.get(url, {"q": "x"}, **HTMX)
    assert response.status_code == 200
    assert NAV not in response.content
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("url", LIST_PAGES)
def test_a_history_restore_gets_the_whole_page(boss_client, url):
    # given a filtered list page that htmx has no snapshot of (Back after a filter change)
    # when htmx asks the server for it
    response = boss_client.get(url, {"q": "x"}, **RESTORE)
    # then the page comes with its layout, and caches keep the two answers apart
    assert response.status_code == 200
    assert NAV in response.content
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("url", LIST_PAGES)
def test_a_plain_request_gets_the_whole_page(boss_client, url):
    response = boss_client.get(url)
    assert NAV in response.content
    assert "HX-Request" in response["Vary"]


def test_a_signed_out_htmx_action_gets_a_401_back_to_the_item(client):
    # given a reviewer whose session ended while an approval was open
    # when their edit is sent
    response = client.post(
        "/approvals/7/decide/",
        {"verdict": "approve"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/approvals/7/",
    )
    # then no sign-in page is pasted into the panel; htmx is told where to sign in, back to the item
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/login/?next=%2Fapprovals%2F7%2F"
    assert b"<html" not in response.content


def test_a_signed_out_htmx_request_from_another_site_falls_back_to_its_own_url(client):
    response = client.get("/service/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="https://evil.example/x")
    assert response.status_code == 401
    assert response["HX-Redirect"] == "/login/?next=%2Fservice%2F"


def test_a_signed_out_plain_request_still_goes_to_the_sign_in_page(client):
    response = client.get("/approvals/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/approvals/"


def test_a_signed_out_form_post_signs_in_back_to_the_form_page(client):
    response = client.post(
        "/approvals/7/decide/", {"verdict": "approve"}, HTTP_REFERER="http://testserver/approvals/7/"
    )
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fapprovals%2F7%2F"


def test_opening_a_post_only_decision_url_goes_to_the_item(boss_client):
    # e.g. the next= of an old sign-in link
    response = boss_client.get("/approvals/7/decide/")
    assert response.status_code == 302
    assert response["Location"] == "/approvals/7/"


def test_an_api_client_keeps_its_405(boss_client):
    response = boss_client.get("/api/v1/approvals/7/decide/")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"


def test_a_csrf_failure_is_a_styled_403_the_script_recognises(admin_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post("/approvals/7/decide/", {"verdict": "approve"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert response["X-CSRF-Failure"] == "1"
    assert b"app.css" in response.content
    assert b"This page was open too long" in response.content


def test_confidence_bars_have_the_width_of_their_value_without_inline_style():
    low, high = str(confidence_meter(0.31)), str(confidence_meter(0.92))
    assert 'class="confidence-fill" width="31"' in low
    assert 'class="confidence-fill" width="92"' in high
    assert "style=" not in low + high


def _template_files() -> list[Path]:
    dirs: list[Path] = []
    for engine in engines.all():
        loaders = getattr(engine, "engine", None)
        if loaders is None:
            continue
        dirs.extend(Path(d) for d in engine.engine.dirs)
        for loader in engine.engine.template_loaders:
            dirs.extend(Path(d) for d in getattr(loader, "get_dirs", list)())
    base = Path(settings.BASE_DIR).resolve()
    ours = [d.resolve() for d in dirs if d.resolve().is_relative_to(base) and "site-packages" not in d.parts]
    files = {f for d in ours for f in d.rglob("*.html")}
    return sorted(files)


INLINE = [
    ("inline style", re.compile(r"\sstyle\s*=", re.I)),
    ("inline script", re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I)),
    ("event handler attribute", re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)),
]


def test_no_template_has_inline_styles_scripts_or_handlers():
    files = _template_files()
    assert len(files) > 30  # every app's templates are scanned, not just one folder
    found = [
        f"{path.relative_to(settings.BASE_DIR)}: {what}"
        for path in files
        for what, pattern in INLINE
        if pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_no_template_tag_writes_inline_styles():
    base = Path(settings.BASE_DIR)
    tags = [p for p in base.glob("**/templatetags/*.py") if ".venv" not in p.parts]
    assert tags  # the approvals, service, leads and marketing tags are scanned
    found = [str(p.relative_to(base)) for p in tags if re.search(r"""\sstyle=["']""", p.read_text(encoding="utf-8"))]
    assert found == []
