from django.urls import path, re_path

from conversations.openai_compat import views

urlpatterns = [
    path("chat/completions", views.ChatCompletionView.as_view(), name="openai-chat-completions"),
    path("models", views.ModelListView.as_view(), name="openai-models"),
    # `path`: some providers' model ids hold a slash (`org/model`).
    path("models/<path:model>", views.ModelView.as_view(), name="openai-model"),
    # Last: whatever else is under /v1/ is OpenAI's 404, never Django's page.
    # (?s): the rest of the path may hold a line break (%0A), which "." skips.
    re_path(r"^(?P<path>(?s:.*))$", views.UnknownURLView.as_view()),
]
