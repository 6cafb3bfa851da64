"""Usernames become one by their look-alike key (users.usernames.username_key).

Existing accounts keep their names and log-ins. Where two existing names now
share a key (`admin` and `аdmin` with a Cyrillic а, say), the older account
keeps the key and each later one is marked `lookalike`: the unique index
leaves it out, and it still logs in by its own spelling. Every such clash is
printed, for staff to review (the admin's user list filters by it).
"""

import sys
import unicodedata

from django.db import migrations, models

# The key as the code computes it now: that is what the column must hold.
from users.usernames import username_key


def rekey(apps, schema_editor):
    User = apps.get_model("users", "User")
    holders = {}
    clashes = []
    for user in User.objects.order_by("date_joined", "pk").iterator():
        key = username_key(user.username)
        holder = holders.setdefault(key, user)
        lookalike = holder.pk != user.pk
        if lookalike:
            clashes.append((user, holder))
        if (user.username_key, user.lookalike) != (key, lookalike):
            User.objects.filter(pk=user.pk).update(username_key=key, lookalike=lookalike)
    if clashes:
        sys.stdout.write(
            f"\n  {len(clashes)} existing username(s) look like an older account's; "
            "they keep working and are marked lookalike:\n"
        )
        for user, holder in clashes:
            sys.stdout.write(
                f"    {user.username!r} ({user.pk}) looks like {holder.username!r} ({holder.pk})\n"
            )


def unkey(apps, schema_editor):
    # The key before: NFKC, then case folding. It was unique then, and every
    # account created since has a key of its own under the stricter rule.
    User = apps.get_model("users", "User")
    for user in User.objects.iterator():
        key = unicodedata.normalize("NFKC", user.username).casefold()
        User.objects.filter(pk=user.pk).update(username_key=key)


class Migration(migrations.Migration):

    dependencies = [
        ("users", "0003_tokentransaction"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="lookalike",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AlterField(
            model_name="user",
            name="username_key",
            field=models.TextField(db_index=True, editable=False),
        ),
        migrations.RunPython(rekey, unkey),
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                condition=models.Q(("lookalike", False)),
                fields=("username_key",),
                name="users_user_username_key_unique",
            ),
        ),
    ]
