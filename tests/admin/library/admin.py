"""Registered with django_limpyd's admin site (found by the admin autodiscovery)."""

from django_limpyd import admin
from tests.admin.library.redis_models import Book


@admin.register(Book)
class BookAdmin(admin.RedisModelAdmin):
    list_display = ("pk", "title", "genre", "year", "author", "title_length")
    list_per_page = 5
    ordering = "title"

    @admin.display(description="title length")
    def title_length(self, row):
        return len(row["title"] or "")
