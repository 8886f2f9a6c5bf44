"""A trigram index for the inbox's subject search, on PostgreSQL only (a no-op elsewhere).

``icontains`` compiles to ``UPPER(subject::text) LIKE UPPER('%…%')``; a GIN trigram index on that
expression turns a scan of every case into an index lookup. pg_trgm is a trusted extension
(PostgreSQL 13+), so the database owner can create it; where that is not allowed the search
still works, just without the index.
"""

from django.db import migrations

INDEX = "service_case_subject_trgm"


def create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT service_trgm")
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {INDEX} ON service_case USING gin ((UPPER(subject::text)) gin_trgm_ops)"
            )
        except Exception:  # no permission for the extension: search works without the index
            cursor.execute("ROLLBACK TO SAVEPOINT service_trgm")
        else:
            cursor.execute("RELEASE SAVEPOINT service_trgm")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("service", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
