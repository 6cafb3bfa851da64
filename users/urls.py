from django.urls import path

from api.converters import ID
from users import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="auth-register"),
    path("auth/login/", views.LoginView.as_view(), name="auth-login"),
    path("auth/refresh/", views.RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all/", views.LogoutAllView.as_view(), name="auth-logout-all"),
    path("auth/password/", views.PasswordChangeView.as_view(), name="auth-password"),
    path("auth/me/", views.MeView.as_view(), name="auth-me"),
    path("keys/", views.ApiKeyListView.as_view(), name="key-list"),
    path(f"keys/<{ID}:pk>/", views.ApiKeyDetailView.as_view(), name="key-detail"),
    path("usage/", views.UsageView.as_view(), name="usage"),
    path("users/", views.UserListView.as_view(), name="user-list"),
]
