from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "tests.admin.library"
    label = "library"
    verbose_name = "Library"
