"""``Contact.search_text``: the lower-cased email, names, title and account name a contact is found by,
maintained by ``Contact.save`` and the account write service; existing rows are filled here in one
UPDATE (the same string ``search_text_of`` builds)."""

from django.db import migrations, models
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Lower


def fill(apps, schema_editor):
    Account = apps.get_model("contacts", "Account")
    Contact = apps.get_model("contacts", "Contact")
    account_name = Subquery(Account.objects.filter(pk=OuterRef("account_id")).values("name")[:1])
    parts = ["email", "first_name", "last_name", "title", Coalesce(account_name, Value(""))]
    spaced = []
    for part in parts:
        spaced += [part, Value(" ")]
    Contact.objects.using(schema_editor.connection.alias).update(
        search_text=Lower(Concat(*spaced[:-1], output_field=CharField()))
    )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_tags_on_contacts_and_accounts")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="search_text",
            field=models.TextField(
                blank=True,
                default="",
                editable=False,
                help_text="Maintained: lower-cased email, names, title and account name (trigram-indexed on PostgreSQL).",
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
