from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Who is calling and what they may do: organizations, roles, members, API keys."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI security schemes for our authentication classes.
        from accounts import schema  # noqa: F401
