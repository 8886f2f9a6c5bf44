import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from hitl_crm.accounts.models import ApiToken
from hitl_crm.accounts.roles import ADMIN, MANAGER, ROLES, SALES_REP, roles_ensure
from hitl_crm.accounts.services import api_token_create

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_key_is_stored(sales_rep):
    token, key = api_token_create(user=sales_rep, name="Webshop")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.key_hash == ApiToken.hash_key(key)
    assert key.startswith(stored.prefix)


def test_roles_are_created_idempotently():
    first = roles_ensure()
    second = roles_ensure()
    assert first == second
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


def test_role_permissions_fit_the_job(make_user):
    rep = make_user(SALES_REP)
    manager = make_user(MANAGER)
    admin = make_user(ADMIN)
    assert rep.has_perm("contacts.view_contact")
    assert rep.has_perm("contacts.change_contact")
    assert not rep.has_perm("contacts.delete_contact")
    assert manager.has_perm("contacts.delete_contact")
    assert admin.has_perm("accounts.add_apitoken")
    assert not manager.has_perm("accounts.add_apitoken")


def test_create_api_token_command_prints_the_key_once(sales_rep, capsys):
    call_command("create_api_token", sales_rep.username, "--name", "ERP")
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert ApiToken.objects.get(name="ERP").key_hash == ApiToken.hash_key(key)


def test_admin_shows_a_new_key_once_and_never_stores_it(client, admin_user, sales_rep):
    client.force_login(admin_user)
    response = client.post("/admin/accounts/apitoken/add/", {"user": sales_rep.pk, "name": "BI export"}, follow=True)
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("Copy this key now" in m for m in shown)
    key = next(m for m in shown if "Copy this key now" in m).rsplit(" ", 1)[-1]
    assert ApiToken.objects.get(name="BI export").key_hash == ApiToken.hash_key(key)
