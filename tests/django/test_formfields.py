"""Form fields of HashField and SortedSetField in ``RedisModelForm``, and updates of
several fields sent in one MULTI/EXEC round trip."""

import pytest

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.formfields import EntriesField, ScoredMembersField
from django_limpyd.forms import RedisModelForm
from django_limpyd.indexes import EqualIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import count_commands


@pytest.fixture
def Page(database):
    class Page(RedisModel):
        namespace = "formfields"
        title = fields.InstanceHashField(unique=True)
        headers = fields.HashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        ranking = fields.SortedSetField(indexable=True)
        tags = fields.SetField(indexable=True)
        body = fields.StringField()

    Page.use_database(database)
    return Page


@pytest.fixture
def PageForm(Page):
    class PageForm(RedisModelForm):
        class Meta:
            model = Page
            fields = "__all__"

    return PageForm


def test_fields_parse_and_render():
    entries = EntriesField(required=False)
    assert entries.clean("from=a@b.c\n\nsubject=x=y\n") == {"from": "a@b.c", "subject": "x=y"}
    assert entries.clean('{"a=b": "c", "d": ""}') == {"a=b": "c", "d": ""}
    assert entries.clean("") == {}
    assert entries.prepare_value({"a": "1", "b": "2"}) == "a=1\nb=2"
    for bad, message in [
        ("nothing here", "Line 1: no '='"),
        ("=x", "no key"),
        ("a=1\na=2", "'a' is given twice"),
        ('{"a": 1}', "JSON object of strings"),
        ("{nope", "Not a JSON object"),
    ]:
        with pytest.raises(Exception, match=message):
            entries.clean(bad)

    scored = ScoredMembersField(required=False)
    assert scored.clean("a=1\nb=c=2.5\n x = -3 ") == {"a": 1.0, "b=c": 2.5, " x ": -3.0}
    assert scored.prepare_value([("a", 1.0), ("b", 2.5)]) == "a=1\nb=2.5"
    with pytest.raises(Exception, match="score 'high' is not a number"):
        scored.clean("a=high")
    with pytest.raises(Exception, match="NaN"):
        scored.clean("a=nan")
    assert not scored.has_changed([("a", 1.0)], "a=1.0")
    assert scored.has_changed([("a", 1.0)], "a=2")


def test_create_and_update(Page, PageForm):
    form = PageForm()
    assert isinstance(form.fields["headers"], EntriesField)
    assert isinstance(form.fields["ranking"], ScoredMembersField)
    form = PageForm(
        {"title": "Home", "headers": "lang=en\nfrom=me", "ranking": "b=2\na=1", "tags": ""}
    )
    assert form.is_valid(), form.errors
    page = form.save()
    assert page.headers.hgetall() == {"lang": "en", "from": "me"}
    assert page.ranking.zrange(0, -1, withscores=True) == [("a", 1.0), ("b", 2.0)]
    assert list(Page.collection(headers__lang="en")) == [page.pk.get()]

    form = PageForm(instance=page)
    assert form["ranking"].value() == "a=1\nb=2"  # prepare_value
    assert "a=1\nb=2" in str(form["ranking"])
    assert "from=me" in str(form["headers"])

    # several fields changed: one round trip, one MULTI/EXEC
    data = {
        "title": "Home page",
        "headers": "lang=fr",
        "ranking": "c=3",
        "tags": "x\ny",
        "body": "",
    }
    form = PageForm(data, instance=page)
    assert form.is_valid(), form.errors
    with count_commands(Page) as recorder:
        assert form.save() is not None
    assert recorder.num_round_trips == 1
    sent = recorder.describe()
    assert "MULTI" in sent and "EXEC" in sent
    assert page.title.hget() == "Home page"
    assert page.headers.hgetall() == {"lang": "fr"}
    assert page.ranking.zrange(0, -1, withscores=True) == [("c", 3.0)]
    assert page.tags.smembers() == {"x", "y"}
    assert list(Page.collection(headers__lang="en")) == []
    assert list(Page.collection(headers__lang="fr")) == [page.pk.get()]
    assert list(Page.collection(ranking="c")) == [page.pk.get()]
    assert consistency_check(Page) == []

    # one field changed: one write, no transaction
    form = PageForm({**data, "headers": ""}, instance=page)
    assert form.is_valid(), form.errors
    with count_commands(Page) as recorder:
        form.save()
    assert "MULTI" not in recorder.describe()
    assert page.headers.hgetall() == {}


def test_errors_before_writing(Page, PageForm):
    Page(title="Taken")
    form = PageForm({"title": "Taken", "headers": "a", "ranking": "a=x"})
    assert not form.is_valid()
    assert "no '='" in form.errors["headers"][0]
    assert "not a number" in form.errors["ranking"][0]
    assert "already exists" in form.errors["title"][0]
    form = PageForm({"title": "New", "headers": "a=b\0c"})
    assert not form.is_valid()
    assert "NUL" in form.errors["headers"][0]
    assert list(Page.collection()) == ["1"]


def test_a_write_refused_inside_the_transaction(Page, PageForm):
    """A unique value taken between the check and the write: the error is on its
    field, the other writes of the MULTI/EXEC are done (Redis does not roll back)."""
    page = Page(title="Mine", body="old")
    form = PageForm({"title": "Wanted", "body": "new", "ranking": "a=1"}, instance=page)
    assert form.is_valid(), form.errors
    Page(title="Wanted")  # another writer, after the check
    assert form.save() is None
    assert "already exists" in form.errors["title"][0]
    assert page.title.hget() == "Mine"
    assert page.body.get() == "new"
    assert consistency_check(Page) == []
