from django.urls import path

from api.converters import ID
from conversations import views

urlpatterns = [
    path("chat/", views.ChatView.as_view(), name="chat"),
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("conversations/", views.ConversationListView.as_view(), name="conversation-list"),
    path(
        f"conversations/<{ID}:pk>/",
        views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path("chats/", views.ExchangeListView.as_view(), name="exchange-list"),
    path("transactions/", views.TokenTransactionListView.as_view(), name="transaction-list"),
]
