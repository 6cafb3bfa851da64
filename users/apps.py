from django.apps import AppConfig


class UsersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "users"

    def ready(self) -> None:
        from users.usernames import username_key

        # Builds the look-alike table (a fifth of a second) once, in the
        # process that forks the server's workers, not in a first log-in.
        username_key("")
