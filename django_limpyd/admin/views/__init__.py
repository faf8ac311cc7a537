"""The views of the admin-like pages (one module per page family)."""

from django_limpyd.admin.views.changelist import ChangeListView
from django_limpyd.admin.views.history import HistoryView
from django_limpyd.admin.views.index import IndexView
from django_limpyd.admin.views.instance import AddView, ChangeView, DeleteView, InstanceRedirectView
from django_limpyd.admin.views.keys import KeyBrowserView

__all__ = [
    "AddView",
    "ChangeListView",
    "ChangeView",
    "DeleteView",
    "HistoryView",
    "IndexView",
    "InstanceRedirectView",
    "KeyBrowserView",
]
