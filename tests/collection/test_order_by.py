"""``order_by`` with several fields: sorted by the collection function (strategy
``candidates``), one round trip, clear errors."""

import pytest

from django_limpyd import fields
from django_limpyd.contrib.collection import ExtendedCollectionManager
from django_limpyd.exceptions import ImplementationError
from django_limpyd.indexes import EqualIndex, NumberRangeIndex, TextRangeIndex
from django_limpyd.model import RedisModel
from django_limpyd.test.commands import assert_num_commands

DATA = [
    # title, status, year, rank
    ("b", "draft", 2001, "x"),
    ("a", "published", 2000, "3"),
    ("d", "published", 2001, "1"),
    ("c", "draft", 1999, "2"),
    ("a", "draft", 2001, "4"),
    ("e", "published", 2000, None),
    ("f", "draft", 2000, "10"),
    ("a", "published", 2001, "1"),
    ("b", "published", 1999, "2"),
    ("c", "draft", 2000, "3"),
    ("c", "published", 2001, "1"),
]


@pytest.fixture
def Post(database):
    class Post(RedisModel):
        namespace = "orderby"
        collection_manager = ExtendedCollectionManager
        title = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        status = fields.InstanceHashField(indexable=True)
        year = fields.StringField(indexable=True, indexes=[EqualIndex, NumberRangeIndex])
        rank = fields.InstanceHashField(indexable=True, indexes=[NumberRangeIndex])
        tags = fields.SetField()

    Post.use_database(database)
    for title, status, year, rank in DATA:
        post = Post(title=title, status=status, year=year)
        if rank is not None:
            post.rank.hset(rank)
    database.load_scripts()
    return Post


def pks(collection):
    return [int(post.pk.get()) for post in collection]


def python_order(keys, where=lambda row: True):
    """The pks of DATA sorted by ``keys`` (index, descending), ties in pk order."""
    rows = [(pk, row) for pk, row in enumerate(DATA, 1) if where(row)]
    rows.sort(key=lambda item: item[0])
    for index, desc in reversed(keys):
        rows.sort(key=lambda item, i=index: item[1][i], reverse=desc)
    return [pk for pk, _ in rows]


def test_several_fields(Post):
    with assert_num_commands(1, Post):
        result = pks(Post.objects.order_by("-year", "title"))
    assert result == python_order([(2, True), (0, False)])
    assert pks(Post.objects.order_by("title", "-year", "status")) == python_order(
        [(0, False), (2, True), (1, False)]
    )
    # filtered, sliced: still one round trip
    with assert_num_commands(1, Post):
        page = pks(Post.objects.filter(status="published").order_by("title", "-year")[1:4])
    expected = python_order([(0, False), (2, True)], lambda row: row[1] == "published")
    assert page == expected[1:4]
    # an equal index filter, a range, an exclude
    assert pks(
        Post.objects.filter(year__gte=2000).exclude(title="a").order_by("-title", "year")
    ) == (python_order([(0, True), (2, False)], lambda row: row[2] >= 2000 and row[0] != "a"))
    # the pk as a key, and ties in pk order
    assert pks(Post.objects.order_by("title", "-pk")) == sorted(
        range(1, 12), key=lambda pk: (DATA[pk - 1][0], -pk)
    )
    assert pks(Post.objects.order_by("status", "title")) == python_order([(1, False), (0, False)])


def test_first_last_reverse_count(Post):
    ordered = python_order([(2, True), (0, False)])
    objects = Post.objects.order_by("-year", "title")
    with assert_num_commands(1, Post):
        first = objects.first()
    with assert_num_commands(1, Post):
        last = objects.last()
    assert (first, last) == (Post(ordered[0]), Post(ordered[-1]))
    assert pks(objects.reverse()) == python_order([(2, False), (0, True)])
    assert objects.count() == len(DATA)
    assert objects.ordered
    total, page = objects.count_and_slice(2, 4)
    assert (total, pks(page)) == (len(DATA), ordered[2:4])
    assert [row["pk"] for row in objects.values("pk")] == [str(pk) for pk in ordered]


def test_numbers_and_missing_values(Post):
    """``rank`` has a NumberRangeIndex: sorted as numbers ("10" after "4"); a missing
    value counts as 0, as in SORT. A value that is not a number fails, naming the field."""
    objects = Post.objects.exclude(pk=1)
    ranks = {pk: DATA[pk - 1][3] for pk in range(2, 12)}
    expected = sorted(ranks, key=lambda pk: (-float(ranks[pk] or 0), DATA[pk - 1][0], pk))
    assert pks(objects.order_by("-rank", "title")) == expected
    with pytest.raises(ImplementationError, match=r"could not sort Post by 'rank'"):
        list(Post.objects.order_by("rank", "title"))


def test_explain(Post):
    explained = Post.objects.filter(status="draft").order_by("-year", "title").explain()
    assert explained["strategy"] == "candidates"
    assert explained["commands"][-1] == "sort 5 candidates by -year, title"
    assert explained["cost"] == 5 + 5 * 2
    explained = Post.objects.order_by("year", "-title").explain()
    assert explained["strategy"] == "candidates"
    assert explained["commands"][-1] == "sort 11 candidates by year, -title"
    # one field keeps the strategies of one BY (here a walk of the range index)
    assert Post.objects.order_by("-year").explain()["strategy"] != "candidates"


def test_errors_name_the_field(Post):
    with pytest.raises(ImplementationError, match="no field 'nope'"):
        Post.objects.order_by("year", "nope")
    with pytest.raises(ImplementationError, match=r"Post.tags.*several values"):
        Post.objects.order_by("year", "-tags")
    with pytest.raises(ImplementationError, match="no random order"):
        Post.objects.order_by("?")
    with pytest.raises(ImplementationError, match="takes field names"):
        Post.objects.order_by("year", "")


@pytest.mark.standalone  # a key outside the model's slot: tests/cluster
def test_by_score_is_replaced(Post):
    scores = Post.get_connection()
    scores.zadd("orderby:scores", {"1": 3, "2": 1, "3": 2})
    by_score = Post.objects.sort(by_score="orderby:scores")
    assert pks(by_score) == [2, 3, 1]
    assert pks(by_score.order_by("-year", "title")) == python_order([(2, True), (0, False)])


@pytest.fixture
def Item(database):
    class Item(RedisModel):
        namespace = "orderby"
        group = fields.InstanceHashField(indexable=True, indexes=[EqualIndex, TextRangeIndex])
        size = fields.StringField(indexable=True, indexes=[EqualIndex, NumberRangeIndex])
        name = fields.InstanceHashField(indexable=True)

    Item.use_database(database)
    rows = []
    for number in range(1, 61):
        row = (f"g{number % 4}", number % 5, f"n{(number * 7) % 11:02d}")
        Item(group=row[0], size=row[1], name=row[2])
        rows.append((number, *row))
    database.load_scripts()
    return Item, rows


def test_a_page_walks_the_first_fields_range_index(Item):
    """Sliced pages sorted by several fields whose first has a range index: that index
    read in order up to the page and the whole group of its last value (ties at the
    page's edge), sorted in the function: the same results as sorting everything."""
    Item, rows = Item
    orders = {
        ("-size", "name"): lambda r: (-r[2], r[3], r[0]),
        ("size", "-name"): lambda r: (r[2], [-ord(c) for c in r[3]], r[0]),
        ("group", "-size", "name"): lambda r: (r[1], -r[2], r[3], r[0]),
        ("-group", "name"): lambda r: ([-ord(c) for c in r[1]], r[3], r[0]),
    }
    for names, key in orders.items():
        ordered = [r[0] for r in sorted(rows, key=key)]
        objects = Item.objects.order_by(*names)
        for start, stop in [(0, 1), (0, 5), (7, 19), (11, 12), (55, 70), (3, 3)]:
            with assert_num_commands(1, Item):
                page = pks(objects[start:stop])
            assert page == ordered[start:stop], (names, start, stop)
        assert objects[:10].explain()["strategy"] == "index walk", names
        assert pks(objects) == ordered  # unsliced: candidates
        total, page = objects.count_and_slice(12, 15)
        assert (total, pks(page)) == (60, ordered[12:15])
        # filtered: walked while the page is small for the filter's size
        selected = [r[0] for r in sorted(rows, key=key) if r[3] in ("n01", "n02", "n03")]
        filtered = objects.filter(name__in=["n01", "n02", "n03"])
        assert pks(filtered[:3]) == selected[:3]
        assert filtered[:3].explain()["strategy"] == "index walk"
        assert pks(filtered[2:6]) == selected[2:6]
        total, page = filtered.count_and_slice(1, 4)
        assert (total, pks(page)) == (len(selected), selected[1:4])
    explained = Item.objects.order_by("-size", "name")[:5].explain()
    assert explained["commands"][0].startswith("ZREVRANGE {orderby:Item}:x:size:num in chunks")
    assert explained["commands"][-1].startswith("sort ")


def test_a_missing_first_value_sorts_everything(Item):
    """An instance without the first value is not in its index (SORT counts it as 0):
    the index is not walked."""
    Item, rows = Item
    Item(name="n00")  # 61, without size: with the sizes 0
    rows = [*rows, (61, None, 0, "n00")]
    ordered = [r[0] for r in sorted(rows, key=lambda r: (r[2], r[3], r[0]))]
    assert ordered[:3] == [55, 61, 30]
    assert pks(Item.objects.order_by("size", "name")[:3]) == ordered[:3]
    assert Item.objects.order_by("size", "name")[:3].explain()["strategy"] == "candidates"


def test_keys_after_the_pk_are_dropped(Item):
    Item, _rows = Item
    objects = Item.objects.order_by("-pk", "name")
    assert pks(objects[:3]) == [60, 59, 58]
    assert objects._query.sort.then == ()


def test_a_transformed_number_index_sorts_as_text(database):
    """A ``NumberRangeIndex`` with a transform indexes something made from the value
    (here its length): the value itself sorts as text."""

    class Word(RedisModel):
        namespace = "orderby"
        text = fields.InstanceHashField(
            indexable=True, indexes=[EqualIndex, NumberRangeIndex.configure(transform=len)]
        )

    Word.use_database(database)
    for text in ("pear", "fig", "apple"):
        Word(text=text)
    assert [word.text.hget() for word in Word.objects.order_by("text")] == [
        "apple",
        "fig",
        "pear",
    ]
    assert [word.text.hget() for word in Word.objects.order_by("-text", "pk")] == [
        "pear",
        "fig",
        "apple",
    ]
    assert [word.text.hget() for word in Word.objects.filter(text__gte=4)] == ["pear", "apple"]
