"""Prices per million tokens, editable in the admin; used when a span carries no cost."""

from django.db import models

from accounts.models import Organization


class ModelPrice(models.Model):
    """A price for models matching `model_pattern` (shell-style, e.g. `gpt-4o*`) at one provider.

    An organization's own price beats a global one; among several matches the longest pattern
    wins. Prices apply to spans starting in [valid_from, valid_to).
    """

    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="model_prices",
        help_text="Empty: applies to every organization.",
    )
    provider = models.CharField(max_length=100, help_text="Normalised provider name, e.g. openai.")
    model_pattern = models.CharField(max_length=200, help_text="Exact name or shell pattern, e.g. gpt-4o*.")
    input_price_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    output_price_per_million = models.DecimalField(max_digits=14, decimal_places=6)
    cache_read_price_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="Empty: the input price."
    )
    cache_write_price_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True, help_text="Empty: the input price."
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "model_pattern"]
        indexes = [models.Index(fields=["provider"], name="modelprice_provider")]

    def __str__(self) -> str:
        scope = self.organization.slug if self.organization is not None else "global"
        return f"{self.provider}/{self.model_pattern} ({scope})"
