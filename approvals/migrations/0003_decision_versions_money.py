from decimal import Decimal

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import hitl_crm.money


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0002_audit_integrity"),
        ("ai", "0002_intents_models_and_run_risk"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ExchangeRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("currency", models.CharField(max_length=3, validators=[hitl_crm.money.validate_currency_code])),
                (
                    "base_currency",
                    models.CharField(
                        default="USD",
                        help_text="The policy or limit currency.",
                        max_length=3,
                        validators=[hitl_crm.money.validate_currency_code],
                    ),
                ),
                (
                    "rate",
                    models.DecimalField(
                        decimal_places=10,
                        help_text="Units of the base currency per one unit of the currency.",
                        max_digits=20,
                        validators=[django.core.validators.MinValueValidator(Decimal("1E-10"))],
                    ),
                ),
                ("valid_from", models.DateField(default=django.utils.timezone.localdate)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
            ],
            options={
                "ordering": ["currency", "base_currency", "-valid_from"],
            },
        ),
        migrations.CreateModel(
            name="PayloadVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("payload", models.JSONField()),
                ("payload_hash", models.CharField(max_length=64)),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("proposal", "Proposal"),
                            ("edit", "Reviewer's edit"),
                            ("redraft", "AI redraft"),
                            ("revision", "Revised by the requester"),
                        ],
                        max_length=10,
                    ),
                ),
                ("note", models.TextField(blank=True, help_text="For redrafts and revisions: the reviewer's request.")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["request", "number"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="authoritylimit",
            name="approvals_authority_unique",
        ),
        migrations.AddField(
            model_name="approvalpolicy",
            name="currency",
            field=models.CharField(
                default="USD",
                help_text="ISO 4217 currency of the amount range. Amounts in another currency are converted with the exchange-rate table; a currency without a rate is refused.",
                max_length=3,
                validators=[hitl_crm.money.validate_currency_code],
            ),
        ),
        migrations.AddField(
            model_name="approvalpolicy",
            name="second_review_edit_ratio",
            field=models.FloatField(
                default=0.5,
                help_text="A reviewer who rewrites more than this share of the payload (0–1) has written it: one more approval by a different reviewer is then needed.",
                validators=[django.core.validators.MinValueValidator(0), django.core.validators.MaxValueValidator(1)],
            ),
        ),
        migrations.AddField(
            model_name="approvalrequest",
            name="version",
            field=models.PositiveIntegerField(
                default=1, help_text="Goes up by one on every change of the payload (edit, redraft, revision)."
            ),
        ),
        migrations.AddField(
            model_name="authoritylimit",
            name="currency",
            field=models.CharField(default="USD", max_length=3, validators=[hitl_crm.money.validate_currency_code]),
        ),
        migrations.AddField(
            model_name="decision",
            name="material",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Material fields the reviewer changed: [{field, label, before, after, display}].",
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="second_review",
            field=models.CharField(
                blank=True,
                choices=[("rewrite", "Rewritten by the reviewer"), ("material", "Material change")],
                help_text="Why this edit needs one more approval by a different reviewer.",
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="decision",
            name="version",
            field=models.PositiveIntegerField(
                default=1, help_text="The payload version decided on (for an edit: the version the edit created)."
            ),
        ),
        migrations.AlterField(
            model_name="approvalpolicy",
            name="max_amount",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Applies when the amount (in the policy's currency) is at most this (inclusive).",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="approvalpolicy",
            name="min_amount",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Applies when the amount (in the policy's currency) is at least this (inclusive).",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="authoritylimit",
            name="max_amount",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Inclusive: amounts up to and including this may be approved. Empty: no limit.",
                max_digits=14,
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="authoritylimit",
            constraint=models.UniqueConstraint(
                fields=("policy", "group", "currency"), name="approvals_authority_unique_currency"
            ),
        ),
        migrations.AddConstraint(
            model_name="exchangerate",
            constraint=models.UniqueConstraint(
                fields=("currency", "base_currency", "valid_from"), name="approvals_exchange_rate_unique"
            ),
        ),
        migrations.AddConstraint(
            model_name="exchangerate",
            constraint=models.CheckConstraint(
                condition=models.Q(("rate__gt", 0)), name="approvals_exchange_rate_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="exchangerate",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency", models.F("base_currency")), _negated=True),
                name="approvals_exchange_rate_two_currencies",
            ),
        ),
        migrations.AddField(
            model_name="payloadversion",
            name="ai_run",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="ai.airun"
            ),
        ),
        migrations.AddField(
            model_name="payloadversion",
            name="author",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="payloadversion",
            name="decision",
            field=models.ForeignKey(
                blank=True,
                help_text="The decision that led to this version (an edit or a change request).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="approvals.decision",
            ),
        ),
        migrations.AddField(
            model_name="payloadversion",
            name="request",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="versions", to="approvals.approvalrequest"
            ),
        ),
        migrations.AddConstraint(
            model_name="payloadversion",
            constraint=models.UniqueConstraint(fields=("request", "number"), name="approvals_payload_version_unique"),
        ),
    ]
