from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "tests.apps.blog"
    label = "blog"
