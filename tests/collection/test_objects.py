"""``Model.objects``: Django's everyday QuerySet API on collections; ``exclude``,
``MultipleObjectsReturned`` and Django's shortcuts."""

import pytest
from django.core.exceptions import MultipleObjectsReturned as DjangoMultipleObjectsReturned
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_list_or_404, get_object_or_404

from django_limpyd import fields
from django_limpyd.collection import CollectionManager
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import ImplementationError, MultipleObjectsReturned
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands


@pytest.fixture
def Post(database):
    class Post(RedisModel):
        namespace = "objects"
        collection_manager = ExtendedCollectionManager
        title = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        status = fields.InstanceHashField(indexable=True)
        year = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, NumberRangeIndex])

    Post.use_database(database)
    Post(title="b", status="draft", year=9)  # 1
    Post(title="a", status="published", year=10)  # 2
    Post(title="d", status="published", year=2000)  # 3
    Post(title="c", status="draft", year=100)  # 4
    database.load_scripts()
    return Post


def pks(collection):
    return [post.pk.get() for post in collection]


def test_objects_gives_instances_and_collection_gives_pks(Post):
    assert isinstance(Post.objects, ExtendedCollectionManager)
    assert pks(Post.objects.all()) == ["1", "2", "3", "4"]
    assert all(isinstance(post, Post) for post in Post.objects.all())
    assert list(Post.collection()) == ["1", "2", "3", "4"]
    assert Post._default_manager.model is Post
    assert pks(Post.objects.filter(status="draft")) == ["1", "4"]
    assert pks(Post.objects.filter(status="draft").filter(year__gte=50)) == ["4"]
    assert pks(Post.objects.filter(status="published", year__lt=100)) == ["2"]
    assert pks(Post.objects.filter(title__exact="c")) == ["4"]
    assert pks(Post.objects.filter(pk__exact=3)) == ["3"]


def test_base_collection_manager_has_the_methods(Post):
    objects = Post.collection(manager=CollectionManager).instances()
    assert pks(objects.filter(status="draft").exclude(year=9)) == ["4"]
    assert objects.order_by("-year").first().pk.get() == "3"


def test_order_by_chooses_alpha_from_the_indexes(Post):
    assert pks(Post.objects.order_by("title")) == ["2", "1", "4", "3"]  # TextRangeIndex
    assert pks(Post.objects.order_by("-year")) == ["3", "4", "2", "1"]  # NumberRangeIndex
    by_status = pks(Post.objects.order_by("status"))  # no range index: text
    assert sorted(by_status[:2]) == ["1", "4"]  # (SORT leaves equal texts unordered)
    assert pks(Post.objects.order_by("-pk")) == ["4", "3", "2", "1"]
    assert pks(Post.objects.order_by("-year").order_by()) == ["1", "2", "3", "4"]
    assert Post.objects.order_by("year").ordered
    assert pks(Post.objects.order_by("status", "-year")) == [
        "4",
        "1",
        "3",
        "2",
    ]  # see test_conditions
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Post.objects.order_by("nope")


def test_first_last_and_reverse(Post):
    with assert_num_commands(1, Post):
        assert Post.objects.first().pk.get() == "1"
    with assert_num_commands(1, Post):
        assert Post.objects.last().pk.get() == "4"
    assert Post.objects.order_by("-year").first().pk.get() == "3"
    assert Post.objects.order_by("-year").last().pk.get() == "1"
    assert Post.objects.filter(status="published").order_by("title").last().pk.get() == "3"
    assert Post.objects.order_by("title")[1:3].last().pk.get() == "4"
    assert pks(Post.objects.order_by("year").reverse()) == ["3", "4", "2", "1"]
    assert Post.objects.filter(status="none").first() is None
    assert Post.objects.filter(status="none").last() is None
    assert Post.collection(status="draft").first() == "1"  # pks stay pks


def test_get_count_exists_none(Post):
    assert Post.objects.get(title="d").pk.get() == "3"
    assert Post.objects.filter(status="draft").get(year=100).pk.get() == "4"
    assert Post.objects.get(pk=2).pk.get() == "2"
    with pytest.raises(Post.DoesNotExist):
        Post.objects.get(title="z")
    with pytest.raises(Post.MultipleObjectsReturned, match="More than one Post"):
        Post.objects.get(status="draft")
    with assert_num_commands(1, Post):
        assert Post.objects.filter(status="draft").count() == 2
    assert len(Post.objects.all()) == 4
    assert Post.objects.filter(status="draft").exists()
    assert not Post.objects.filter(status="gone").exists()
    with assert_num_commands(0, Post):
        nothing = Post.objects.filter(status="draft").none()
        assert list(nothing) == []
        assert nothing.count() == 0
        assert not nothing.exists()
        assert nothing.first() is None


def test_multiple_objects_returned(Post):
    error = Post.MultipleObjectsReturned
    assert issubclass(error, MultipleObjectsReturned)
    assert issubclass(error, DjangoMultipleObjectsReturned)
    assert issubclass(error, ValueError)  # what limpyd raises
    with pytest.raises(ValueError):
        Post.get(status="published")
    with pytest.raises(error):
        Post.get(status="published")
    with pytest.raises(error):
        Post.collection().get(status="published")

    class Other(RedisModel):
        namespace = "objects"

    assert not issubclass(Other.MultipleObjectsReturned, error)

    class Child(Post):
        pass

    assert issubclass(Child.MultipleObjectsReturned, error)


def test_slicing_and_iterator(Post):
    ordered = Post.objects.order_by("year")
    assert pks(ordered[1:3]) == ["2", "4"]
    assert ordered[0].pk.get() == "1"
    with assert_num_commands(1, Post):
        assert pks(ordered[2:]) == ["4", "3"]
    assert pks(ordered.iterator(chunk_size=3)) == ["1", "2", "4", "3"]
    assert pks(ordered.iterator()) == ["1", "2", "4", "3"]


def test_values_values_list_and_in_bulk(Post):
    drafts = Post.objects.filter(status="draft").order_by("-year")
    assert list(drafts.values("pk", "title")) == [
        {"pk": "4", "title": "c"},
        {"pk": "1", "title": "b"},
    ]
    assert list(drafts.values_list("title", flat=True)) == ["c", "b"]
    with assert_num_commands(1, Post):
        bulk = Post.objects.in_bulk([1, 3, 99])
    assert sorted(bulk) == ["1", "3"]
    assert bulk["3"] == Post(3)
    assert sorted(Post.objects.filter(status="draft").in_bulk()) == ["1", "4"]


def test_exclude(Post):
    assert pks(Post.objects.exclude(status="draft")) == ["2", "3"]  # exclude only
    assert pks(Post.objects.exclude(year__gte=100)) == ["1", "2"]  # a range
    assert pks(Post.objects.exclude(title__lt="c")) == ["3", "4"]  # a text range
    assert pks(Post.objects.filter(status="draft").exclude(year=9)) == ["4"]
    assert pks(Post.objects.exclude(status="draft").exclude(year=10)) == ["3"]
    assert pks(Post.objects.exclude(year__in=[9, 2000])) == ["2", "4"]
    assert pks(Post.objects.exclude(pk__in=[1, 2])) == ["3", "4"]
    assert pks(Post.objects.exclude(status="gone")) == ["1", "2", "3", "4"]
    assert pks(Post.objects.exclude(year__in=[])) == ["1", "2", "3", "4"]  # nothing to drop
    assert Post.objects.exclude(status="draft").count() == 2
    with assert_num_commands(1, Post):
        page = Post.objects.exclude(status="gone").order_by("-year")[1:3]
        assert pks(page) == ["4", "2"]
    assert pks(Post.objects.exclude(year=2000).order_by("title")[:2]) == ["2", "1"]
    assert Post.objects.exclude(status="published").order_by("-title").first() == Post(4)
    assert list(Post.collection().exclude(status="draft")) == ["2", "3"]
    # NOT (status="draft" AND year=9), as Django's exclude
    assert pks(Post.objects.exclude(status="draft", year=9)) == ["2", "3", "4"]
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Post.objects.exclude(nope=1)


def test_shortcuts(Post):
    assert get_object_or_404(Post, title="a") == Post(2)
    assert get_object_or_404(Post, pk=3) == Post(3)
    assert get_object_or_404(Post.objects.filter(status="draft"), pk=1) == Post(1)
    assert get_object_or_404(Post.objects.exclude(status="draft"), year=10) == Post(2)
    with pytest.raises(Http404):
        get_object_or_404(Post, title="z")
    with pytest.raises(Http404):
        get_object_or_404(Post.objects.filter(status="draft"), pk=2)
    with pytest.raises(Post.MultipleObjectsReturned):
        get_object_or_404(Post, status="draft")
    assert get_list_or_404(Post, status="published") == [Post(2), Post(3)]
    assert get_list_or_404(Post.objects.order_by("-year"), status="draft") == [Post(4), Post(1)]
    with pytest.raises(Http404):
        get_list_or_404(Post, status="gone")
    paginator = Paginator(Post.objects.exclude(status="gone").order_by("title"), 3)
    assert paginator.count == 4
    assert pks(paginator.page(2)) == ["3"]


def test_objects_of_a_model_without_a_manager_has_values(database):
    class Note(RedisModel):
        namespace = "objects"
        text = fields.InstanceHashField(indexable=True)

    Note.use_database(database)
    Note(text="x")
    Note(text="y")
    assert isinstance(Note.objects, ExtendedCollectionManager)
    assert type(Note.collection()) is CollectionManager  # limpyd's API unchanged
    assert list(Note.objects.values("pk", "text")) == [
        {"pk": "1", "text": "x"},
        {"pk": "2", "text": "y"},
    ]
    assert list(Note.objects.exclude(text="x").values_list("text", flat=True)) == ["y"]
