"""``.../<pk>/history/``: the admin log entries of one instance, as the Django
admin's History page (see :mod:`django_limpyd.admin.history`)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse

from django_limpyd.admin import history
from django_limpyd.admin.views.base import ModelView, describe_instances

__all__ = ["HistoryView"]

#: entries per page (as Django's admin)
PER_PAGE = 100


class HistoryView(ModelView):
    """The entries of an instance, oldest first; an instance deleted since keeps its
    history (404 only without instance nor entries)."""

    def get(
        self, request: HttpRequest, app_label: str, model_name: str, object_id: str
    ) -> HttpResponse:
        self.setup_model(app_label, model_name)
        pk = self.object_pk(object_id)
        described = describe_instances(self.site, self.model_admin, [pk])
        entries = history.entries(self.model, pk)
        if not described and not entries.exists():
            raise Http404(f"No {self.opts.verbose_name} with pk {pk!r}.")
        if described:
            label, url = described[0]["label"], described[0]["url"]
        else:
            last = entries.last()
            label, url = (last.object_repr if last else pk), None
        paginator = Paginator(entries, PER_PAGE)
        page = paginator.get_page(request.GET.get("p"))
        return self.render(
            "django_limpyd/object_history.html",
            title=f"Change history: {label}",
            subtitle=None,
            **self.model_context(
                pk=pk,
                original=label,
                instance_url=url,
                action_list=page,
                page_range=list(paginator.get_elided_page_range(page.number)),
                pagination_required=paginator.num_pages > 1,
            ),
        )
