"""``Lead.search_text``: the lower-cased email, names, company and linked account name a lead is found
by, maintained by ``Lead.save``, the bulk write paths and the account rename receiver; existing rows
are filled here in one UPDATE (the same string ``lead_search_text_of`` builds)."""

from django.db import migrations, models
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Lower


def fill(apps, schema_editor):
    Account = apps.get_model("contacts", "Account")
    Lead = apps.get_model("leads", "Lead")
    account_name = Subquery(Account.objects.filter(pk=OuterRef("account_id")).values("name")[:1])
    parts = ["email", "first_name", "last_name", "company", Coalesce(account_name, Value(""))]
    spaced = []
    for part in parts:
        spaced += [part, Value(" ")]
    Lead.objects.using(schema_editor.connection.alias).update(
        search_text=Lower(Concat(*spaced[:-1], output_field=CharField()))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0004_contact_search_trigram"),
        ("leads", "0003_lead_rank_listed"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="search_text",
            field=models.TextField(
                blank=True,
                default="",
                editable=False,
                help_text="Maintained: lower-cased email, names, company and linked account name "
                "(trigram-indexed on PostgreSQL).",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
