from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "tests.apps.events"
    label = "events"
