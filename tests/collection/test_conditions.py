"""Conditions: ``exclude(a=1, b=2)`` as NOT (a AND b), and Django's ``Q`` objects
(``|``, ``&``, ``~``), evaluated by the read-only collection function."""

import itertools

import pytest
from django.db.models import Q

from django_limpyd import fields
from django_limpyd.collection.conditions import (
    EVERY,
    Condition,
    conjunction,
    disjunction,
    negation,
    parity,
)
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.contrib.indexes import EqualIndexWith
from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

STATUSES = ["draft", "published", "archived"]


@pytest.fixture
def Post(database):
    class Post(RedisModel):
        namespace = "conditions"
        collection_manager = ExtendedCollectionManager
        title = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        status = fields.InstanceHashField(indexable=True)
        year = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, NumberRangeIndex])
        tags = fields.SetField(indexable=True)

    Post.use_database(database)
    for number in range(1, 25):
        Post(
            title=f"t{number:02d}",
            status=STATUSES[number % 3],
            year=1990 + number % 7,
            tags=["odd" if number % 2 else "even"] + (["five"] if number % 5 == 0 else []),
        )
    database.load_scripts()
    return Post


def rows(Post):
    """Each post as a dict, to compute the expected results in Python."""
    return [
        {
            "pk": n,
            "title": f"t{n:02d}",
            "status": STATUSES[n % 3],
            "year": 1990 + n % 7,
            "tags": {"odd" if n % 2 else "even"} | ({"five"} if n % 5 == 0 else set()),
        }
        for n in range(1, 25)
    ]


def pks(collection):
    return [int(post.pk.get()) for post in collection]


def expected(Post, test):
    return [row["pk"] for row in rows(Post) if test(row)]


def test_exclude_several_filters_is_not_and(Post):
    with assert_num_commands(1, Post):
        result = pks(Post.objects.exclude(status="draft", year__gte=1993))
    assert result == expected(Post, lambda r: not (r["status"] == "draft" and r["year"] >= 1993))
    # chained excludes: and-ed negations
    result = pks(Post.objects.exclude(status="draft", year__gte=1993).exclude(tags="even"))
    assert result == expected(
        Post,
        lambda r: not (r["status"] == "draft" and r["year"] >= 1993) and "even" not in r["tags"],
    )
    # with filters, a sort and a slice: still one round trip
    with assert_num_commands(1, Post):
        result = pks(
            Post.objects.filter(tags="odd")
            .exclude(status="draft", year=1991)
            .order_by("-title")[:4]
        )
    odd = expected(
        Post, lambda r: "odd" in r["tags"] and not (r["status"] == "draft" and r["year"] == 1991)
    )
    assert result == sorted(odd, reverse=True)[:4]
    # a part matching nothing: NOT (nothing) excludes nothing
    assert pks(Post.objects.exclude(status="draft", year__in=[])) == list(range(1, 25))
    assert Post.objects.exclude(status="draft", year__gte=1993).count() == len(
        expected(Post, lambda r: not (r["status"] == "draft" and r["year"] >= 1993))
    )


def test_q_objects(Post):
    q = Q(status="draft") | Q(year__lt=1992)
    with assert_num_commands(1, Post):
        result = pks(Post.objects.filter(q, tags="odd"))
    assert result == expected(
        Post, lambda r: (r["status"] == "draft" or r["year"] < 1992) and "odd" in r["tags"]
    )
    assert pks(Post.objects.filter(~Q(status="draft"))) == expected(
        Post, lambda r: r["status"] != "draft"
    )
    assert pks(Post.objects.filter(~Q(status="draft", year=1991))) == expected(
        Post, lambda r: not (r["status"] == "draft" and r["year"] == 1991)
    )
    nested = (Q(tags="five") | (Q(status="archived") & ~Q(year__in=[1990, 1991]))) & Q(
        title__gte="t10"
    )
    assert pks(Post.objects.filter(nested)) == expected(
        Post,
        lambda r: (
            ("five" in r["tags"] or (r["status"] == "archived" and r["year"] > 1991))
            and r["title"] >= "t10"
        ),
    )
    # exclude with a Q, and-ed with its keyword filters
    assert pks(Post.objects.exclude(Q(status="draft") | Q(status="archived"), year=1990)) == (
        expected(Post, lambda r: not (r["status"] != "published" and r["year"] == 1990))
    )
    # Q(a=1) & Q(a=2): both, on one field
    assert pks(Post.objects.filter(Q(tags="odd") & Q(tags="five"))) == expected(
        Post, lambda r: {"odd", "five"} <= r["tags"]
    )
    # an empty Q is no condition, as in Django
    everything = list(range(1, 25))
    assert pks(Post.objects.filter(Q())) == everything
    assert pks(Post.objects.filter(~Q())) == everything
    assert pks(Post.objects.exclude(Q())) == everything
    assert pks(Post.objects.exclude()) == everything
    assert pks(Post.objects.filter(Q(title="t01") | Q())) == [1]
    assert pks(Post.objects.filter(Q(Q(), title="t01") | Q(Q(), title="t02"))) == [1, 2]
    assert pks(Post.objects.filter(Q(year__in=[]) | Q(status="gone"))) == []
    assert pks(Post.objects.filter(Q(year__in=[]) | ~Q(year__in=[]))) == list(range(1, 25))
    # counts, sorted pages and get() take them too
    assert Post.objects.filter(q).count() == len(
        expected(Post, lambda r: r["status"] == "draft" or r["year"] < 1992)
    )
    with assert_num_commands(1, Post):
        total, page = Post.objects.filter(q).order_by("-year", "title").count_and_slice(0, 3)
    matching = [r for r in rows(Post) if r["status"] == "draft" or r["year"] < 1992]
    assert total == len(matching)
    ordered = sorted(matching, key=lambda r: (-r["year"], r["title"]))
    assert pks(page) == [r["pk"] for r in ordered[:3]]
    assert Post.objects.get(Q(title="t03") | Q(title="nope")) == Post(3)
    assert list(Post.collection().filter(Q(title="t03") | Q(title="t04"))) == ["3", "4"]


def test_q_objects_errors(Post):
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Post.objects.filter(Q(status="draft") | Q(nope=1))
    with pytest.raises(ImplementationError, match=r"Post.status.*'gt'"):
        Post.objects.exclude(Q(status__gt="a"))
    with pytest.raises(TypeError, match="take Q objects"):
        Post.objects.filter("status")


def test_model_get_and_exists_take_q_objects(Post):
    """``Post.get(Q)`` / ``Post.exists(Q)`` as ``Post.objects.get(Q)``, in one round trip."""
    with assert_num_commands(1, Post):
        found = Post.get(Q(title="t03") | Q(title="nope"))
    assert found == Post(3)
    assert Post.get(Q(title="t03") | Q(title="t04"), status="draft") == Post(3)
    assert Post.get(~Q(status="draft"), Q(tags="five"), year=1995) == Post(5)
    with pytest.raises(Post.DoesNotExist, match=r"No Post matches \(OR: \('title', 'x'\)"):
        Post.get(Q(title="x") | Q(title="y"))
    with pytest.raises(Post.MultipleObjectsReturned, match=r"\(AND: \('tags', 'five'\)\) and"):
        Post.get(Q(tags="five"), status="archived")  # 5, 20
    with pytest.raises(Post.MultipleObjectsReturned, match=r"More than one Post matches \{\}\.$"):
        Post.get(Q())  # an empty Q is no condition
    with pytest.raises(ImplementationError, match="Post: give one pk, or filters and Q"):
        Post.get(Q(title="t03"), 3)
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Post.get(Q(nope=1))
    assert Post.exists(Q(title="t03") | Q(title="nope"))
    assert Post.exists(Q(status="gone") | Q(year__gt=1995))
    assert not Post.exists(Q(status="gone") | Q(year__gt=1996))
    assert not Post.exists(Q(title="t03"), status="published")


def test_conditions_read_nothing_but_what_they_test(Post):
    """Explained: the smallest and-ed part is read, the rest tested on it, negations
    never read."""
    explained = Post.objects.filter(Q(tags="five") | Q(title="t01"), ~Q(status="draft")).explain()
    assert explained["strategy"] in ("candidates", "index walk")
    assert not any("read not" in step for step in explained["commands"])


def test_random_trees_match_python(Post):
    """Every combination of two or three leaves with &, |, ~ gives what Python says."""
    leaves = [
        (Q(status="draft"), lambda r: r["status"] == "draft"),
        (Q(year__gte=1994), lambda r: r["year"] >= 1994),
        (Q(tags="five"), lambda r: "five" in r["tags"]),
        (Q(title__startswith="t1"), lambda r: r["title"].startswith("t1")),
        (Q(pk__in=[2, 3, 5, 7, 11]), lambda r: r["pk"] in (2, 3, 5, 7, 11)),
    ]
    for (qa, ta), (qb, tb) in itertools.permutations(leaves, 2):
        cases = [
            (qa | qb, lambda r, ta=ta, tb=tb: ta(r) or tb(r)),
            (qa ^ qb, lambda r, ta=ta, tb=tb: ta(r) != tb(r)),
            (~qa ^ qb, lambda r, ta=ta, tb=tb: (not ta(r)) != tb(r)),
            (qa & ~qb, lambda r, ta=ta, tb=tb: ta(r) and not tb(r)),
            (~(qa | qb), lambda r, ta=ta, tb=tb: not (ta(r) or tb(r))),
            (~qa | qb, lambda r, ta=ta, tb=tb: not ta(r) or tb(r)),
        ]
        for q, test in cases:
            assert pks(Post.objects.filter(q)) == expected(Post, test), q
            assert Post.objects.filter(q).count() == len(expected(Post, test)), q
            assert pks(Post.objects.exclude(q)) == expected(Post, lambda r, t=test: not t(r)), q


def test_xor(Post):
    """Django's ``^``: an odd number of the parts match."""
    q = Q(status="draft") ^ Q(year__gte=1994) ^ Q(tags="five")
    tests = [lambda r: r["status"] == "draft", lambda r: r["year"] >= 1994]
    tests.append(lambda r: "five" in r["tags"])
    with assert_num_commands(1, Post):
        result = pks(Post.objects.filter(q))
    assert result == expected(Post, lambda r: sum(test(r) for test in tests) % 2 == 1)
    assert pks(Post.objects.filter(Q(status="draft") ^ Q(year__in=[]))) == expected(
        Post, lambda r: r["status"] == "draft"
    )


def test_combining_operations():
    a, b = {"op": "set", "key": "a"}, {"op": "set", "key": "b"}
    assert conjunction([a, EVERY]) == a
    assert conjunction([a, None]) is None
    assert conjunction([]) == EVERY
    assert conjunction([a, {"op": "all", "ops": [b]}]) == {"op": "all", "ops": [a, b]}
    assert disjunction([a, None]) == a
    assert disjunction([a, EVERY]) == EVERY
    assert disjunction([None]) is None
    assert negation(None) == EVERY
    assert negation(EVERY) is None
    assert negation(negation(a)) == a
    assert parity([a, b]) == {"op": "odd", "ops": [a, b]}
    assert parity([a, EVERY]) == negation(a)
    assert parity([None, EVERY]) == EVERY
    assert parity([None]) is None
    with pytest.raises(ImplementationError, match="AND, OR and XOR"):
        Condition("NAND", [])


def test_equal_index_with_in_a_q(database):
    class Queue(RedisModel):
        namespace = "conditions"
        name = fields.InstanceHashField(
            indexable=True,
            indexes=[EqualIndex, EqualIndexWith.configure(other_fields=["priority"])],
        )
        priority = fields.InstanceHashField()

    Queue.use_database(database)
    for name, priority in [("a", 1), ("a", 2), ("b", 1)]:
        Queue(name=name, priority=priority)
    result = Queue.collection().filter(Q(name="a", priority=2) | Q(name="b", priority=1))
    assert list(result) == ["2", "3"]
    assert list(Queue.collection().exclude(name="a", priority=1)) == ["2", "3"]
