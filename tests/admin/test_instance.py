"""The instance pages: every field in the widget of its type, editing with
validation and uniqueness errors, adding, deleting."""

from __future__ import annotations

import re

import pytest

from django_limpyd.test.commands import count_commands

BOOK = "/admin/redis/library/book/"
CHANGE = BOOK + "1/change/"


def form_data(**changes):
    data = {
        "title": "The Hobbit",
        "genre": "fantasy",
        "year": "1937",
        "isbn": "isbn-1",
        "summary": "",
        "author": "tolkien",
    }
    data.update(changes)
    return data


def errors_of(response, field):
    match = re.search(
        rf'field-{field} errors">\s*<ul class="errorlist"[^>]*>(.*?)</ul>',
        response.content.decode(),
        re.S,
    )
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


# -- reading -----------------------------------------------------------------------------


def test_every_field_in_the_widget_of_its_type(superuser_client, staff_client, books):
    books[0].summary.set("There and back again.")
    body = superuser_client.get(CHANGE).content.decode()
    # single-value fields: inputs with their values
    assert 'name="title" value="The Hobbit"' in body
    assert 'name="year" value="1937"' in body
    assert 'name="summary" value="There and back again."' in body
    # read-only (a staff member): each multi-value field in the display of its type
    body = staff_client.get(CHANGE).content.decode()
    # a set: its members
    tags = re.search(r"field-tags.*?limpyd-set\">(.*?)</ul>", body, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", tags) == ["classic", "dragons"]
    # a list, in order, with indexes
    chapters = re.search(r"limpyd-list\">(.*?)</table>", body, re.S).group(1)
    assert re.findall(r"<td class=\"limpyd-number\">(\d+)</td><td>(.*?)</td>", chapters) == [
        ("0", "An Unexpected Party"),
        ("1", "Roast Mutton"),
    ]
    # a sorted set, by score, with scores
    ratings = re.search(r"limpyd-zset\">(.*?)</table>", body, re.S).group(1)
    assert re.findall(r"<td>(\w+)</td><td class=\"limpyd-number\">([\d.]+)</td>", ratings) == [
        ("bob", "3.5"),
        ("alice", "5"),
    ]
    # a hash: key/value rows
    details = re.search(r"limpyd-hash\">(.*?)</table>", body, re.S).group(1)
    assert re.findall(r"<th scope=\"row\">(\w+)</th><td>(\w+)</td>", details) == [
        ("cover", "green"),
        ("pages", "310"),
    ]
    # sizes and keys
    assert "SetField · 2 items · TTL no expiry" in body
    assert "{library:Book}:f:tags:1" in body


def test_related_fields_link_to_their_target(superuser_client, staff_client, books):
    body = superuser_client.get(CHANGE).content.decode()
    assert '<a href="/admin/redis/library/author/tolkien/change/">author tolkien</a>' in body
    body = staff_client.get(CHANGE).content.decode()
    coauthors = re.search(r"field-coauthors.*?</ul>", body, re.S).group(0)
    assert '<a href="/admin/redis/library/author/tolkien/change/">tolkien</a>' in coauthors
    slashy = superuser_client.get("/admin/redis/library/author/a_2Fb_3Fc_23d/change/")
    assert slashy.status_code == 200
    assert "<code>a/b?c#d</code>" in slashy.content.decode()


def test_ttls_are_shown(superuser_client, books):
    books[0].summary.set("soon gone")
    books[0].summary.expire(3600)
    body = superuser_client.get(CHANGE).content.decode()
    assert re.search(r"StringField · empty: no value · TTL 3[56]\d\d s \(\d:\d\d:\d\d\)", body)
    assert "TTL no expiry" in body


def test_big_multi_value_fields_show_their_first_members(superuser_client, books, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "multi_value_preview", 3)
    books[0].chapters.rpush(*[f"chapter {i}" for i in range(10)])
    body = superuser_client.get(CHANGE).content.decode()
    assert "ListField · 12 items (9 not shown)" in body


def test_the_page_is_read_in_one_round_trip(superuser_client, books):
    with count_commands() as recorder:
        assert superuser_client.get(CHANGE).status_code == 200
    assert recorder.num_round_trips == 1, recorder.describe()


def test_read_only_for_staff(staff_client, books):
    body = staff_client.get(CHANGE).content.decode()
    assert re.search(
        r'<label>title:</label>\s*<div class="readonly">\s*'
        r'<span class="limpyd-string">The Hobbit</span>\s*</div>',
        body,
    )
    assert 'name="title"' not in body
    assert 'class="closelink"' in body


def test_the_instance_url_redirects_to_its_change_page(superuser_client, books):
    response = superuser_client.get(BOOK + "1/")
    assert response.status_code == 302
    assert response["Location"] == CHANGE


# -- editing -------------------------------------------------------------------------------


def test_edit_single_value_fields(superuser_client, books, library):
    response = superuser_client.post(
        CHANGE, form_data(title="The Hobbit!", year="1938", summary="Bilbo", genre="")
    )
    assert response.status_code == 302
    assert response["Location"] == BOOK
    book = library.Book(1)
    assert book.title.hget() == "The Hobbit!"
    assert book.year.get() == "1938"
    assert book.summary.get() == "Bilbo"
    assert book.genre.hget() is None  # empty: no value
    assert library.Book.collection(year=1938) == ["1"]  # indexes follow
    assert library.Book.collection(genre="fantasy") == []
    message = superuser_client.get(BOOK).content.decode()
    assert "The book “The Hobbit!” was changed successfully." in message


def test_whitespace_is_kept_and_an_empty_string_field_deleted(superuser_client, books, library):
    books[0].summary.set("x")
    superuser_client.post(CHANGE, form_data(genre=" fantasy ", summary=""))
    assert library.Book(1).genre.hget() == " fantasy "
    assert library.Book(1).summary.get() is None


def test_unchanged_fields_are_not_written(superuser_client, books):
    with count_commands() as recorder:
        superuser_client.post(CHANGE, form_data(summary="new"))
    writes = [c for c in recorder.commands if str(c[0]).upper() in ("EVALSHA", "EVAL", "FCALL")]
    assert len(writes) == 1, recorder.describe()


def test_save_and_continue(superuser_client, books):
    response = superuser_client.post(CHANGE, {**form_data(), "_continue": "1"})
    assert response["Location"] == CHANGE


def test_save_and_add_another(superuser_client, books):
    body = superuser_client.get(CHANGE).content.decode()
    assert 'value="Save and add another" name="_addanother"' in body
    assert 'value="Save and continue editing" name="_continue"' in body
    response = superuser_client.post(CHANGE, {**form_data(), "_addanother": "1"})
    assert response["Location"] == BOOK + "add/"


def test_validation_errors_are_shown_on_their_fields(superuser_client, books, library):
    response = superuser_client.post(CHANGE, form_data(year="nineteen", title="Dune"))
    assert response.status_code == 200
    assert errors_of(response, "year") == ["Enter a number: this field has a number range index."]
    assert errors_of(response, "title") == ["Book with this title already exists."]
    body = response.content.decode()
    assert "Please correct the errors below." in body
    assert 'name="year" value="nineteen"' in body  # what was typed stays
    assert library.Book(1).title.hget() == "The Hobbit"  # nothing written
    assert library.Book(1).year.get() == "1937"


def test_uniqueness_of_a_string_field(superuser_client, books, library):
    response = superuser_client.post(CHANGE, form_data(isbn="isbn-2"))
    assert errors_of(response, "isbn") == ["Book with this isbn already exists."]
    assert library.Book(1).isbn.get() == "isbn-1"


def test_a_uniqueness_error_raised_by_the_write_is_shown_on_its_field(
    superuser_client, books, library, monkeypatch
):
    """Another writer took the value between the check and the write."""
    from django_limpyd.admin.forms import RedisModelForm

    monkeypatch.setattr(RedisModelForm, "clean", lambda self: super(RedisModelForm, self).clean())
    response = superuser_client.post(CHANGE, form_data(title="Dune"))
    assert response.status_code == 200
    assert errors_of(response, "title") == ["Book with this title already exists."]
    assert library.Book(1).title.hget() == "The Hobbit"


def test_a_text_range_index_refuses_nul(superuser_client, books):
    response = superuser_client.post(CHANGE, form_data(title="a\0b"))
    assert response.status_code == 200
    assert errors_of(response, "title")


# -- adding ----------------------------------------------------------------------------------


def test_add_with_an_auto_pk(superuser_client, books, library):
    body = superuser_client.get(BOOK + "add/").content.decode()
    assert 'name="pk"' not in body
    assert "<h1>Add book</h1>" in body
    response = superuser_client.post(
        BOOK + "add/", {"title": "Solaris", "year": "1961", "isbn": "isbn-7", "_addanother": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == BOOK + "add/"
    book = library.Book.get(title="Solaris")
    assert book.pk.get() == "7"
    assert book.year.get() == "1961"
    assert book.genre.hget() is None


def test_add_with_a_given_pk(superuser_client, library):
    url = "/admin/redis/library/author/add/"
    assert 'name="pk"' in superuser_client.get(url).content.decode()
    response = superuser_client.post(url, {"pk": "le guin", "name": "Ursula", "_continue": "1"})
    assert response["Location"] == "/admin/redis/library/author/le%20guin/change/"
    assert library.Author("le guin").name.hget() == "Ursula"
    again = superuser_client.post(url, {"pk": "le guin", "name": "Other"})
    assert again.status_code == 200
    assert errors_of(again, "pk") == ["Author with this pk already exists."]
    assert library.Author("le guin").name.hget() == "Ursula"
    assert errors_of(superuser_client.post(url, {"name": "No pk"}), "pk") == [
        "This field is required."
    ]


def test_add_checks_uniqueness_before_writing(superuser_client, books, library):
    response = superuser_client.post(BOOK + "add/", {"title": "Dune", "isbn": "isbn-new"})
    assert errors_of(response, "title") == ["Book with this title already exists."]
    assert not library.Book.exists(isbn="isbn-new")


def test_add_needs_a_value(superuser_client, library):
    response = superuser_client.post(BOOK + "add/", {})
    assert response.status_code == 200
    assert "Give at least one value" in response.content.decode()
    assert library.Book.collection().count() == 0


# -- deleting ------------------------------------------------------------------------------


def test_delete_asks_then_deletes(superuser_client, books, library):
    page = superuser_client.get(BOOK + "1/delete/")
    body = page.content.decode()
    assert "Are you sure you want to delete the book “The Hobbit”?" in body
    keys = re.findall(r'<code class="limpyd-key">([^<]+)</code>', body)
    assert set(keys) == {
        "{library:Book}:h:1",
        "{library:Book}:f:year:1",
        "{library:Book}:f:isbn:1",
        "{library:Book}:f:summary:1",
        "{library:Book}:f:coauthors:1",
        "{library:Book}:f:tags:1",
        "{library:Book}:f:chapters:1",
        "{library:Book}:f:ratings:1",
        "{library:Book}:f:details:1",
    }
    assert library.Book.exists(1)
    response = superuser_client.post(BOOK + "1/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert response["Location"] == BOOK
    assert not library.Book.exists(1)
    assert library.Book.collection(title="The Hobbit") == []
    assert "was deleted successfully" in superuser_client.get(BOOK).content.decode()
    assert superuser_client.post(BOOK + "1/delete/", {"post": "yes"}).status_code == 404


@pytest.mark.parametrize("pk", ["a/b?c#d", "tolkien"])
def test_pks_with_url_characters(superuser_client, books, library, pk):
    from django.contrib.admin.utils import quote

    url = f"/admin/redis/library/author/{quote(pk)}/"
    assert superuser_client.get(url + "change/").status_code == 200
    response = superuser_client.post(url + "change/", {"name": "Renamed"})
    assert response.status_code == 302
    assert library.Author(pk).name.hget() == "Renamed"
    assert superuser_client.post(url + "delete/", {"post": "yes"}).status_code == 302
    assert not library.Author.exists(pk)


@pytest.fixture
def related_models():
    """``library.Owner`` and ``library.Pet`` (a foreign key and a many-to-many field of
    ``django_limpyd.contrib.related``), for one test."""
    related = pytest.importorskip("django_limpyd.contrib.related")
    from django_limpyd import fields, registry

    module = "tests.admin.library.redis_models"
    owner = type("Owner", (related.RelatedModel,), {"__module__": module, "pk": fields.PKField()})
    pet = type(
        "Pet",
        (related.RelatedModel,),
        {
            "__module__": module,
            "owner": related.FKInstanceHashField("Owner"),
            "friends": related.M2MSetField("Owner", related_name="friends_of"),
        },
    )
    yield owner, pet
    for model in (pet, owner):
        registry.unregister(model)


def test_fields_of_contrib_related_link_to_their_targets(
    superuser_client, staff_client, related_models
):
    Owner, Pet = related_models
    ann, bob = Owner(pk="ann"), Owner(pk="b/b")
    Pet(owner=ann, friends=[ann, bob])
    body = superuser_client.get("/admin/redis/library/pet/1/change/").content.decode()
    assert '<a href="/admin/redis/library/owner/ann/change/">owner ann</a>' in body
    body = staff_client.get("/admin/redis/library/pet/1/change/").content.decode()
    friends = re.search(r"field-friends.*?</ul>", body, re.S).group(0)
    assert '<a href="/admin/redis/library/owner/b_2Fb/change/">b/b</a>' in friends
    listing = superuser_client.get("/admin/redis/library/pet/").content.decode()
    assert '<a href="/admin/redis/library/owner/ann/change/">ann</a>' in listing
