from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "tests.apps.crm"
    label = "crm"
