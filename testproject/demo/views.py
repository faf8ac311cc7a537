"""The demo pages: a visit counter and a list of persons, stored with django_limpyd."""

from urllib.parse import urlsplit, urlunsplit

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from redis.exceptions import RedisError

import django_limpyd
from django_limpyd.exceptions import UniquenessError
from testproject.demo.redis_models import Page, Person


class PersonForm(forms.Form):
    """A new person."""

    name = forms.CharField(max_length=100)
    city = forms.CharField(max_length=100)
    birth_year = forms.IntegerField(min_value=1000, max_value=3000)
    tags = forms.CharField(required=False, help_text="comma separated")


def public_location(location: str) -> str:
    """``location`` without credentials nor query string, fit to be shown."""
    parts = urlsplit(location)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def _create_person(form: PersonForm) -> bool:
    data = form.cleaned_data
    tags = [tag.strip() for tag in data["tags"].split(",") if tag.strip()]
    try:
        Person(name=data["name"], city=data["city"], birth_year=data["birth_year"], tags=tags)
    except UniquenessError:
        form.add_error("name", "A person with this name already exists.")
        return False
    return True


def home(request: HttpRequest) -> HttpResponse:
    """Count the visit, list persons (filtered by city, paginated) and add one.

    Answers 503 with the error when the Redis server cannot be reached.
    """
    database = django_limpyd.databases["default"]
    context = {"location": public_location(database.config.location)}
    try:
        form = PersonForm(request.POST or None)
        if request.method == "POST" and form.is_valid() and _create_person(form):
            return redirect("home")
        page, _created = Page.get_or_connect(path=request.path)
        context["visits"] = page.visits.hincrby(1)
        city = request.GET.get("city", "")
        persons = Person.collection(city=city) if city else Person.collection()
        paginator = Paginator(persons.sort(by="name", alpha=True).instances(), 10)
        context.update(
            form=form,
            city=city,
            persons=paginator.get_page(request.GET.get("page")),
            redis_version=database.connection.info("server")["redis_version"],
            unix_socket=database.connection.connection_pool.connection_kwargs.get("path", ""),
        )
    except RedisError as exc:
        context["error"] = f"{type(exc).__name__}: {exc}"
        return render(request, "demo/home.html", context, status=503)
    return render(request, "demo/home.html", context)
