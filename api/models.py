"""The rate limits' counters, when the cache is the database (api.rate_windows)."""

from django.db import models


class RateWindow(models.Model):
    """Requests counted against one limit in one window.

    Written only by api.rate_windows, with one atomic upsert per request, so
    every server process counts against the same row.
    """

    bucket = models.CharField(max_length=200, primary_key=True)
    count = models.BigIntegerField()
    # Seconds since the epoch (UTC) at which the window ends and the count
    # starts again: a number, so one SQL comparison works on every database.
    expires_at = models.FloatField(db_index=True)

    def __str__(self) -> str:
        return f"{self.bucket}: {self.count}"
