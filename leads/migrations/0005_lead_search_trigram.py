"""A GIN trigram index on ``Lead.search_text``, on PostgreSQL only (a no-op elsewhere).

``search_text`` is lower-cased, so the prospects search lowers each word and uses ``contains``
(``LIKE '%…%'`` on the bare column), which this index serves. pg_trgm is a trusted extension
(PostgreSQL 13+); ``CREATE EXTENSION IF NOT EXISTS`` is idempotent (the contacts migrations create it
too). Where the extension is not allowed the search still works, just without the index.
"""

from django.db import migrations

INDEX = "leads_lead_search_trgm"


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT leads_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON leads_lead USING gin (search_text gin_trgm_ops)")
        except Exception:  # no permission for the extension: search works without the index
            cursor.execute("ROLLBACK TO SAVEPOINT leads_trgm")
        else:
            cursor.execute("RELEASE SAVEPOINT leads_trgm")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("leads", "0004_lead_search_text")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
