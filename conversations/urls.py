from django.urls import path

from conversations import views

urlpatterns = [
    path("chat/", views.ChatView.as_view(), name="chat"),
    path("balance/", views.BalanceView.as_view(), name="balance"),
    path("conversations/", views.ConversationListView.as_view(), name="conversation-list"),
    path(
        "conversations/<uuid:pk>/",
        views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path("chats/", views.ExchangeListView.as_view(), name="exchange-list"),
    path("transactions/", views.TokenTransactionListView.as_view(), name="transaction-list"),
]
