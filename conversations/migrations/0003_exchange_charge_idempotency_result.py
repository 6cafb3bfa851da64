"""The ledger moves to users (issue: one-way app dependencies), in three steps:

1. here: the exchange links to its charge (Exchange.charge), copied from the
   ledger's old link (TokenTransaction.exchange), which is then dropped;
   idempotency keys keep the chat's result instead of an HTTP status and body;
2. users.0003 adopts TokenTransaction and renames its table;
3. conversations.0004 lets go of it.
"""

import json
from datetime import datetime

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def link_charges(apps, schema_editor):
    Exchange = apps.get_model("conversations", "Exchange")
    TokenTransaction = apps.get_model("conversations", "TokenTransaction")
    charges = TokenTransaction.objects.filter(exchange=OuterRef("pk"), kind="chat_charge")
    Exchange.objects.update(charge=Subquery(charges.values("pk")[:1]))


def unlink_charges(apps, schema_editor):
    Exchange = apps.get_model("conversations", "Exchange")
    TokenTransaction = apps.get_model("conversations", "TokenTransaction")
    exchanges = Exchange.objects.filter(charge=OuterRef("pk"))
    TokenTransaction.objects.update(exchange=Subquery(exchanges.values("pk")[:1]))


def keep_results(apps, schema_editor):
    """A stored 201 body becomes the result it was rendered from."""
    IdempotencyKey = apps.get_model("conversations", "IdempotencyKey")
    for key in IdempotencyKey.objects.exclude(response_status=None).iterator():
        body = json.loads(key.response_body)
        created_at = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
        key.result = json.dumps(
            {
                "exchange": {
                    "id": body["id"],
                    "conversation_id": body["conversation"],
                    "message": body["message"],
                    "response": body["response"],
                    "status": "complete",
                    "model": body["model"],
                    "prompt_tokens": body["usage"]["prompt_tokens"],
                    "completion_tokens": body["usage"]["completion_tokens"],
                    "tokens_charged": body["tokens_charged"],
                    "created_at": created_at.isoformat(),
                },
                "remaining_tokens": body["remaining_tokens"],
            }
        )
        key.save(update_fields=["result"])


def keep_bodies(apps, schema_editor):
    IdempotencyKey = apps.get_model("conversations", "IdempotencyKey")
    for key in IdempotencyKey.objects.exclude(result=None).iterator():
        result = json.loads(key.result)
        exchange = result["exchange"]
        created_at = datetime.fromisoformat(exchange["created_at"])
        timestamp = created_at.isoformat().replace("+00:00", "Z")
        key.response_status = 201
        key.response_body = json.dumps(
            {
                "id": exchange["id"],
                "conversation": exchange["conversation_id"],
                "message": exchange["message"],
                "response": exchange["response"],
                "model": exchange["model"],
                "usage": {
                    "prompt_tokens": exchange["prompt_tokens"],
                    "completion_tokens": exchange["completion_tokens"],
                },
                "tokens_charged": exchange["tokens_charged"],
                "remaining_tokens": result["remaining_tokens"],
                "timestamp": timestamp,
            }
        )
        key.save(update_fields=["response_status", "response_body"])


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0002_exchange_status_and_usage"),
    ]

    operations = [
        migrations.AddField(
            model_name="exchange",
            name="charge",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="+",
                to="conversations.tokentransaction",
            ),
        ),
        migrations.RunPython(link_charges, unlink_charges),
        migrations.RemoveField(model_name="tokentransaction", name="exchange"),
        migrations.AddField(
            model_name="idempotencykey",
            name="result",
            field=models.TextField(null=True),
        ),
        migrations.RunPython(keep_results, keep_bodies),
        migrations.RemoveField(model_name="idempotencykey", name="response_status"),
        migrations.RemoveField(model_name="idempotencykey", name="response_body"),
    ]
