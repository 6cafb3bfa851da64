"""conversations lets go of TokenTransaction, which users.0003 adopted; the
exchange's charge now points at users.TokenTransaction (the same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0003_exchange_charge_idempotency_result"),
        ("users", "0003_tokentransaction"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="exchange",
                    name="charge",
                    field=models.OneToOneField(
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="exchange",
                        to="users.tokentransaction",
                    ),
                ),
                migrations.DeleteModel(name="TokenTransaction"),
            ],
            database_operations=[],
        ),
    ]
