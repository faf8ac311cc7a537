"""Editing the multi-value fields (set, list, sorted set, hash) and the related fields
on the change and add pages: rows posted, checked before anything is written, and
written through the model's fields (their indexes follow)."""

from __future__ import annotations

import re

import pytest

from django_limpyd.test.commands import count_commands

BOOK = "/admin/redis/library/book/"
CHANGE = BOOK + "1/change/"


def single_values(**changes):
    data = {
        "title": "The Hobbit",
        "genre": "fantasy",
        "year": "1937",
        "isbn": "isbn-1",
        "summary": "There and back again.",
        "author": "tolkien",
    }
    data.update(changes)
    return data


def rows(name, *values, removed=(), order=None, second=None):
    """The posted rows of a widget: the values, the second column, the removed rows."""
    data = {name: list(values), f"{name}__remove": [str(index) for index in removed]}
    if second is not None:
        data[f"{name}__{second[0]}"] = list(second[1])
    if order is not None:
        data[f"{name}__order"] = [str(position) for position in order]
    return data


def errors_of(response, field):
    match = re.search(
        rf'field-{field} errors">\s*<ul class="errorlist"[^>]*>(.*?)</ul>',
        response.content.decode(),
        re.S,
    )
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


# -- the widgets --------------------------------------------------------------------------


def test_each_type_has_its_rows(superuser_client, books):
    page = superuser_client.get(CHANGE).content.decode()
    # the blank row to copy (JavaScript's "Add a row"), one per widget
    assert page.count('<template class="limpyd-row-template">') == 4
    body = re.sub(r"<template.*?</template>", "", page, flags=re.S)
    # a set: one input per member, a remove checkbox each, a blank row
    assert re.findall(r'name="tags" value="([^"]*)"', body) == ["classic", "dragons", ""]
    assert re.findall(r'name="tags__remove" value="(\d+)"', body) == ["0", "1"]
    # a list: in order, with positions
    assert re.findall(r'name="chapters" value="([^"]*)"', body) == [
        "An Unexpected Party",
        "Roast Mutton",
        "",
    ]
    assert re.findall(r'name="chapters__order" value="(\d+)"', body)[:3] == ["1", "2", "3"]
    # a sorted set: members by score, with their scores
    assert re.findall(r'name="ratings" value="([^"]*)"', body) == ["bob", "alice", ""]
    assert re.findall(r'name="ratings__score" value="([^"]*)"', body) == ["3.5", "5", ""]
    # a hash: keys and values
    assert re.findall(r'name="details" value="([^"]*)"', body) == ["cover", "pages", ""]
    assert re.findall(r'name="details__value" value="([^"]*)"', body) == ["green", "310", ""]
    assert "SetField · 2 items · TTL no expiry" in body


def test_the_page_is_still_read_in_one_round_trip(superuser_client, books):
    with count_commands() as recorder:
        assert superuser_client.get(CHANGE).status_code == 200
    assert recorder.num_round_trips == 1, recorder.describe()


# -- editing ------------------------------------------------------------------------------


def test_add_and_remove_set_members(superuser_client, books, library):
    data = {**single_values(), **rows("tags", "classic", "dragons", "hobbits", removed=[0])}
    response = superuser_client.post(CHANGE, data)
    assert response.status_code == 302, errors_of(response, "tags")
    assert library.Book(1).tags.smembers() == {"dragons", "hobbits"}
    # the index of the set follows
    assert library.Book.collection(tags="hobbits") == ["1"]
    assert library.Book.collection(tags="classic") == []


def test_reorder_and_edit_list_items(superuser_client, books, library):
    data = {
        **single_values(),
        **rows(
            "chapters",
            "An Unexpected Party",
            "Roast Mutton",
            "Over Hill",
            order=[2, 1, 3],
        ),
    }
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).chapters.lrange(0, -1) == [
        "Roast Mutton",
        "An Unexpected Party",
        "Over Hill",
    ]
    # duplicates are fine in a list; removing a row
    data = {**single_values(), **rows("chapters", "a", "b", "a", removed=[1])}
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).chapters.lrange(0, -1) == ["a", "a"]


def test_sorted_set_members_and_scores(superuser_client, books, library):
    data = {
        **single_values(),
        **rows("ratings", "alice", "bob", "carol", second=("score", ["1", "-2.5", "1e3"])),
    }
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).ratings.zrange(0, -1, withscores=True) == [
        ("bob", -2.5),
        ("alice", 1.0),
        ("carol", 1000.0),
    ]


def test_a_bad_score_is_an_error_and_nothing_is_written(superuser_client, books, library):
    data = {
        **single_values(title="Changed"),
        **rows("ratings", "alice", "bob", "", second=("score", ["high", "", "3"])),
        **rows("tags", "new"),
    }
    response = superuser_client.post(CHANGE, data)
    assert response.status_code == 200
    assert errors_of(response, "ratings") == [
        "Row 1: the score “high” of “alice” is not a number.",
        "Row 2: give a score to “bob”.",
    ]
    book = library.Book(1)
    assert book.ratings.zrange(0, -1, withscores=True) == [("bob", 3.5), ("alice", 5.0)]
    assert book.title.hget() == "The Hobbit"  # nothing written
    assert book.tags.smembers() == {"classic", "dragons"}
    # what was typed stays on the page
    assert 'name="ratings__score" value="high"' in response.content.decode()


def test_hash_entries(superuser_client, books, library):
    data = {
        **single_values(),
        **rows(
            "details",
            "cover",
            "pages",
            "lang",
            removed=[1],
            second=("value", ["red", "310", "en = GB"]),
        ),
    }
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).details.hgetall() == {"cover": "red", "lang": "en = GB"}
    # the index of the hash follows
    assert library.Book.collection(details={"cover": "red"}) == ["1"]
    assert library.Book.collection(details={"cover": "green"}) == []


def test_hash_errors(superuser_client, books, library):
    data = {
        **single_values(),
        **rows("details", "a", "a", "", second=("value", ["1", "2", "orphan"])),
    }
    response = superuser_client.post(CHANGE, data)
    assert errors_of(response, "details") == [
        "Row 2: the key “a” is given twice.",
        "Row 3: give a key to the value “orphan”.",
    ]
    assert library.Book(1).details.hgetall() == {"pages": "310", "cover": "green"}


def test_a_set_member_given_twice(superuser_client, books, library):
    response = superuser_client.post(CHANGE, {**single_values(), **rows("tags", "x", "x")})
    assert errors_of(response, "tags") == ["Row 2: “x” is given twice."]


def test_emptying_a_field_deletes_it(superuser_client, books, library):
    data = {**single_values(), **rows("tags", "classic", "dragons", "", removed=[0, 1])}
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).tags.smembers() == set()
    assert not library.Book(1).tags.exists()


def test_fields_not_posted_are_unchanged(superuser_client, books, library):
    """A form without a widget's inputs (an older page, a script) leaves the field."""
    assert superuser_client.post(CHANGE, single_values(summary="x")).status_code == 302
    book = library.Book(1)
    assert book.tags.smembers() == {"classic", "dragons"}
    assert book.chapters.lrange(0, -1) == ["An Unexpected Party", "Roast Mutton"]
    assert book.details.hgetall() == {"pages": "310", "cover": "green"}


def test_only_changed_fields_are_written_in_one_transaction(superuser_client, books, library):
    data = {
        **single_values(summary="new"),
        **rows("tags", "dragons", "classic"),  # the same members: unchanged
        **rows("ratings", "bob", "alice", second=("score", ["3.5", "5"])),  # unchanged
        **rows("chapters", "Roast Mutton", "An Unexpected Party"),  # reordered: changed
    }
    with count_commands() as recorder:
        assert superuser_client.post(CHANGE, data).status_code == 302
    names = [str(command[0]).upper() for command in recorder.commands]
    assert "MULTI" in names and "EXEC" in names
    assert library.Book(1).chapters.lrange(0, -1) == ["Roast Mutton", "An Unexpected Party"]


def test_big_fields_are_shown_not_edited(superuser_client, books, library, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "multi_value_preview", 3)
    books[0].chapters.rpush("3", "4")
    body = superuser_client.get(CHANGE).content.decode()
    assert 'name="chapters"' not in body
    assert "not editable here: more than 3 items" in body
    assert 'name="tags"' in body  # 2 members: editable
    # posting its inputs anyway changes nothing
    data = {**single_values(), **rows("chapters", "only")}
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).chapters.llen() == 4


def test_binary_members_are_shown_not_edited(superuser_client, books, library):
    connection = library.Book._meta.database.connection
    connection.sadd(library.Book(1).tags.key, b"\xff\xfe")
    body = superuser_client.get(CHANGE).content.decode()
    assert 'name="tags"' not in body
    assert "not editable here: it holds bytes that are not text" in body


def test_a_big_encoded_small_set_is_read_whole(superuser_client, books, library):
    """A set stored as a hash table (it was big once) that one SSCAN does not give
    whole: read again with SMEMBERS."""
    tags = library.Book(1).tags
    tags.sadd(*[f"t{i:05}" for i in range(20_000)])
    tags.srem(*[f"t{i:05}" for i in range(19_960)])  # a sparse table: SSCAN gives a part
    with count_commands() as recorder:
        body = superuser_client.get(CHANGE).content.decode()
    assert len(re.findall(r'name="tags" value="[^"]+"', body)) == 42
    assert "not editable" not in body
    if "SMEMBERS" in [command[0] for command in recorder.commands]:  # (Redis may shrink it)
        assert recorder.num_round_trips == 2


def test_add_with_multi_value_fields(superuser_client, library):
    data = {
        "title": "Dune",
        **rows("tags", "sf", "desert"),
        **rows("chapters", "Book I", "Book II"),
        **rows("ratings", "ann", second=("score", ["4"])),
        **rows("details", "pages", second=("value", ["412"])),
    }
    response = superuser_client.post(BOOK + "add/", data)
    assert response.status_code == 302
    book = library.Book.get(title="Dune")
    assert book.tags.smembers() == {"sf", "desert"}
    assert book.chapters.lrange(0, -1) == ["Book I", "Book II"]
    assert book.ratings.zrange(0, -1, withscores=True) == [("ann", 4.0)]
    assert book.details.hgetall() == {"pages": "412"}
    assert library.Book.collection(tags="desert") == [book.pk.get()]


def test_add_refuses_a_bad_score(superuser_client, library):
    data = {"title": "Dune", **rows("ratings", "ann", second=("score", ["nan"]))}
    response = superuser_client.post(BOOK + "add/", data)
    assert errors_of(response, "ratings") == ["Row 1: a score cannot be NaN."]
    assert library.Book.collection().count() == 0


def test_fields_option_may_name_multi_value_fields(superuser_client, books, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "fields", ("title", "tags"))
    body = superuser_client.get(CHANGE).content.decode()
    assert 'name="tags"' in body
    assert 'name="chapters"' not in body


# -- related fields --------------------------------------------------------------------


def test_a_foreign_key_is_a_select_of_few_targets(superuser_client, books, library):
    body = superuser_client.get(CHANGE).content.decode()
    select = re.search(r'<select name="author".*?</select>', body, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', select) == ["", "a/b?c#d", "tolkien"]
    assert '<option value="tolkien" selected>' in select
    response = superuser_client.post(CHANGE, single_values(author="a/b?c#d"))
    assert response.status_code == 302
    assert library.Book(1).author.hget() == "a/b?c#d"
    response = superuser_client.post(CHANGE, single_values(author="nobody"))
    assert errors_of(response, "author") == ["No author with pk “nobody”."]
    assert library.Book(1).author.hget() == "a/b?c#d"


def test_select_options_show_the_labels_of_the_targets(
    superuser_client, books, library, monkeypatch
):
    """When the target's admin names instances by a field, the options say it (one
    more round trip, for the labels)."""
    from django_limpyd import admin

    monkeypatch.setattr(admin.site.get_model_admin(library.Author), "label_field", "name")
    with count_commands() as recorder:
        body = superuser_client.get(CHANGE).content.decode()
    assert recorder.num_round_trips == 2
    select = re.search(r'<select name="author".*?</select>', body, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)<', select) == [
        ("", "---------"),
        ("a/b?c#d", "Slashy (a/b?c#d)"),
        ("tolkien", "J. R. R. Tolkien (tolkien)"),
    ]


def test_many_targets_make_a_raw_id_input_with_a_lookup(superuser_client, books, monkeypatch):
    from tests.admin.library.admin import BookAdmin

    monkeypatch.setattr(BookAdmin, "related_select_max", 1)
    body = superuser_client.get(CHANGE).content.decode()
    assert re.search(
        r'<input type="text" name="author" value="tolkien"[^>]*'
        r'class="vForeignKeyRawIdAdminField"[^>]*id="id_author"',
        body,
    ) or re.search(r'name="author" value="tolkien"[^>]*vForeignKeyRawIdAdminField', body)
    assert (
        '<a href="/admin/redis/library/author/" class="related-lookup" id="lookup_id_author"'
        in body
    )
    assert "admin/js/admin/RelatedObjectLookups.js" in body
    # the many-to-many set: rows with a lookup link each
    assert re.search(
        r'name="coauthors" value="tolkien"[^>]*>\s*'
        r'<a href="/admin/redis/library/author/" class="related-lookup"',
        body,
    )
    response = superuser_client.post(
        CHANGE, {**single_values(author="ghost"), **rows("coauthors", "tolkien", "nobody")}
    )
    assert errors_of(response, "author") == ["No author with pk “ghost”."]
    assert errors_of(response, "coauthors") == ["No author with pk “nobody”."]


def test_a_many_to_many_set_is_a_multiple_select(superuser_client, books, library):
    body = superuser_client.get(CHANGE).content.decode()
    select = re.search(r'<select name="coauthors".*?</select>', body, re.S).group(0)
    assert "multiple" in select
    assert '<option value="tolkien" selected>' in select
    data = {**single_values(), "coauthors__shown": "1", "coauthors": ["a/b?c#d", "tolkien"]}
    assert superuser_client.post(CHANGE, data).status_code == 302
    assert library.Book(1).coauthors.smembers() == {"a/b?c#d", "tolkien"}
    # nothing chosen: emptied
    assert (
        superuser_client.post(CHANGE, {**single_values(), "coauthors__shown": "1"}).status_code
        == 302
    )
    assert library.Book(1).coauthors.smembers() == set()


def test_lookup_popup_list(superuser_client, books):
    body = superuser_client.get("/admin/redis/library/author/?_popup=1").content.decode()
    assert 'data-popup-opener="tolkien"' in body
    assert '<input type="hidden" name="_popup" value="1">' in body
    assert 'name="action"' not in body  # no actions in a popup
    assert "RelatedObjectLookups.js" in body
    assert 'id="header"' not in body  # the admin's popup layout


@pytest.fixture
def related_models():
    """``library.Owner`` and ``library.Pet`` (the fields of ``contrib.related``)."""
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
            "walkers": related.M2MListField("Owner", related_name="walked"),
        },
    )
    yield owner, pet
    for model in (pet, owner):
        registry.unregister(model)


def test_contrib_related_fields(superuser_client, related_models):
    Owner, Pet = related_models
    ann, bob = Owner(pk="ann"), Owner(pk="bob")
    Pet(owner=ann, friends=[ann], walkers=[bob])
    url = "/admin/redis/library/pet/1/change/"
    body = superuser_client.get(url).content.decode()
    assert '<select name="owner"' in body
    assert '<select name="friends"' in body
    data = {
        "owner": "bob",
        "friends__shown": "1",
        "friends": ["ann", "bob"],
        **rows("walkers", "ann", "bob"),
    }
    response = superuser_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    pet = Pet(1)
    assert pet.owner.hget() == "bob"
    assert pet.friends.smembers() == {"ann", "bob"}
    assert pet.walkers.lrange(0, -1) == ["ann", "bob"]
    assert sorted(Pet.collection(friends="bob")) == ["1"]  # its index follows
    response = superuser_client.post(url, {**data, **rows("walkers", "ann", "zed")})
    assert errors_of(response, "walkers") == ["No owner with pk “zed”."]
    assert Pet(1).walkers.lrange(0, -1) == ["ann", "bob"]
