"""Admin for the data the operator edits: model prices."""

from django.contrib import admin

from metrics.models import ModelPrice


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """Prices used for spans that arrive without a cost (before the genai-prices fallback).

    Ingest processes re-read this table within 30 seconds of a change.
    """

    list_display = [
        "provider",
        "model_pattern",
        "organization",
        "input_price_per_million",
        "output_price_per_million",
        "cache_read_price_per_million",
        "valid_from",
        "valid_to",
    ]
    list_filter = ["provider", "organization"]
    search_fields = ["provider", "model_pattern", "organization__slug"]
    autocomplete_fields = ["organization"]
    fieldsets = [
        (None, {"fields": ["organization", "provider", "model_pattern"]}),
        (
            "USD per million tokens",
            {
                "fields": [
                    "input_price_per_million",
                    "output_price_per_million",
                    "cache_read_price_per_million",
                    "cache_write_price_per_million",
                ]
            },
        ),
        ("Validity", {"fields": ["valid_from", "valid_to"]}),
    ]
