from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class UsersConfig(AppConfig):
    default = True
    default_auto_field = "django.db.models.BigAutoField"
    name = "users"

    def ready(self) -> None:
        from users.usernames import username_key

        # Builds the look-alike table (a fifth of a second) once, in the
        # process that forks the server's workers, not in a first log-in.
        username_key("")


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin (installed in its place), with users.admin_site.AdminSite
    as the site every app registers with."""

    default = False
    default_site = "users.admin_site.AdminSite"
