from django.urls import path

from conversations.openai_compat import views

urlpatterns = [
    path("chat/completions", views.ChatCompletionView.as_view(), name="openai-chat-completions"),
    path("models", views.ModelListView.as_view(), name="openai-models"),
]
