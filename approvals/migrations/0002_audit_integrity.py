"""Audit integrity: every column hashed, keyed MACs, targets for non-request events, anchors.

Existing events keep their hash and are marked ``scheme=1`` (the legacy hash, over a subset
of the columns, stays verifiable as it was); this migration backfills their ``mac``, which
covers every column, with the key configured now (``HITL_CRM_AUDIT_KEY``, or the key derived
from SECRET_KEY). Configure the key before migrating. New events use ``scheme=2``.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def backfill_macs(apps, schema_editor) -> None:
    from approvals.audit import audit_key, event_mac

    AuditEvent = apps.get_model("approvals", "AuditEvent")
    key = audit_key()
    for event in AuditEvent.objects.using(schema_editor.connection.alias).order_by("id").iterator(chunk_size=2000):
        AuditEvent.objects.using(schema_editor.connection.alias).filter(pk=event.pk).update(
            mac=event_mac(event, key=key)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="ai_run",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="ai.airun",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="target_type",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="target_id",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="target_repr",
            field=models.CharField(blank=True, editable=False, max_length=200),
        ),
        # Rows that exist now are legacy (scheme 1); the default for new rows is 2.
        migrations.AddField(
            model_name="auditevent",
            name="scheme",
            field=models.PositiveSmallIntegerField(default=1, editable=False),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="scheme",
            field=models.PositiveSmallIntegerField(default=2, editable=False),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_type", "target_id", "id"], name="approvals_audit_target"),
        ),
        migrations.CreateModel(
            name="AuditAnchor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sequence", models.PositiveBigIntegerField(editable=False, unique=True)),
                (
                    "head_id",
                    models.PositiveBigIntegerField(
                        editable=False, help_text="Id of the newest event (0: empty chain)."
                    ),
                ),
                ("head_hash", models.CharField(editable=False, max_length=64)),
                (
                    "event_count",
                    models.PositiveBigIntegerField(editable=False, help_text="Events with an id up to head_id."),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("prev_mac", models.CharField(editable=False, max_length=64)),
                ("mac", models.CharField(editable=False, max_length=64)),
            ],
            options={"ordering": ["sequence"]},
        ),
        migrations.RunPython(backfill_macs, migrations.RunPython.noop, elidable=False),
    ]
