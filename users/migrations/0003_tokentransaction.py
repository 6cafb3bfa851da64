"""The ledger moves here from conversations: the model in Django's state, its
table renamed to users_tokentransaction with every row, index and constraint
kept, and its content type (so permissions granted on it) moved along."""

import django.db.models.deletion
import uuid_utils.compat
from django.conf import settings
from django.db import migrations, models


def move_content_type(apps, schema_editor, source="conversations", target="users"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label=source, model="tokentransaction").update(
        app_label=target
    )


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="users", target="conversations")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("users", "0002_token_version_revoked_sessions"),
        ("conversations", "0003_exchange_charge_idempotency_result"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="TokenTransaction",
                    fields=[
                        (
                            "id",
                            models.UUIDField(
                                default=uuid_utils.compat.uuid7,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("amount", models.BigIntegerField(help_text="Signed: negative for a charge.")),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("signup_grant", "Signup grant"),
                                    ("chat_charge", "Chat charge"),
                                    ("refund", "Refund"),
                                    ("admin_adjustment", "Admin adjustment"),
                                ],
                                max_length=32,
                            ),
                        ),
                        ("balance_after", models.BigIntegerField()),
                        ("note", models.CharField(blank=True, max_length=255)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="token_transactions",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "conversations_tokentransaction",
                        "indexes": [
                            models.Index(fields=["user", "-id"], name="tokentx_user_newest_idx")
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(("amount", 0), _negated=True),
                                name="tokentx_amount_non_zero",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("balance_after__gte", 0)),
                                name="tokentx_balance_after_non_negative",
                            ),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="tokentransaction", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
