from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "conversations"

    def ready(self) -> None:
        from conversations.providers import get_provider

        # An unknown AI_PROVIDER stops start-up, not the first chat.
        get_provider()
