"""``limpyd_dump`` / ``limpyd_flush`` / ``limpyd_load`` of data like the demo project's:
identical key sets (names, types, contents) and a clean ``consistency_check``.

``pytest -s`` shows a short transcript (key counts before and after).
"""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command

from django_limpyd.consistency import consistency_check
from tests.apps.blog.redis_models import Author, Post
from tests.tools.keyspace import contents

MODELS = [Author, Post]
LABELS = ["blog.Author", "blog.Post"]


def demo_data() -> None:
    """People as the demo's home page adds them, and posts with tags."""
    for name, city, birth_year, tags in [
        ("Ann", "Paris", "1980", ["a", "b"]),
        ("Bob", "Rome", "1975", ["b"]),
        ("Chloé", "Paris", "2001", []),
        ("Dan", None, "1990", ["c", "a"]),
    ]:
        values = {"name": name, "birth_year": birth_year, "tags": tags}
        if city:
            values["city"] = city
        Author(**values)
    for i in range(7):
        Post(title=f"Post {i}", status="draft" if i % 3 else "published", year=str(2015 + i))
    Post(title="Tagged", status="published", year="2024", tags=["redis", "django"])
    Post.objects.get(title="Post 2").hdel("status")  # an instance without a value
    Post.objects.get(title="Post 4").delete()  # a hole in the pks


def test_dump_flush_load_round_trip(redis_server, tmp_path):
    raw = redis_server.client()
    demo_data()
    before = contents(raw)
    assert before and all(consistency_check(model) == [] for model in MODELS)

    path = tmp_path / "demo.json"
    err = StringIO()
    call_command("limpyd_dump", *LABELS, output=str(path), chunk_size=3, stderr=err)
    dumped = json.loads(path.read_text())
    print(f"\nbefore: {len(before)} keys, {len(dumped)} objects dumped")
    print("  " + err.getvalue().strip().replace("\n", "\n  "))

    call_command("limpyd_flush", *LABELS, interactive=False, stdout=StringIO(), stderr=StringIO())
    # limpyd_flush keeps the AutoPK counters unless --reset-pk: the rest is gone
    kept = raw.keys("*")
    assert all(key.endswith("}:max") for key in kept), kept
    print(f"flushed: {len(kept)} keys left (the AutoPK counters)")

    out, err = StringIO(), StringIO()
    call_command("limpyd_load", str(path), chunk_size=2, stdout=out, stderr=err)
    after = contents(raw)
    print(f"after: {len(after)} keys; {out.getvalue().strip()}")
    print("  " + err.getvalue().strip().replace("\n", "\n  "))

    assert sorted(after) == sorted(before)  # the same key names
    assert {key: kind for key, (kind, _) in after.items()} == {
        key: kind for key, (kind, _) in before.items()
    }
    assert after == before  # and the same contents
    for model in MODELS:
        assert consistency_check(model) == [], model
        print(f"consistency_check({model._meta.label}) == []")
    # the data reads as before: the indexes work, the AutoPK counter is past the pks
    assert [a.name.hget() for a in Author.objects.filter(city="Paris").order_by("name")] == [
        "Ann",
        "Chloé",
    ]
    assert Author.objects.filter(name__startswith="Ch").count() == 1
    assert Author.objects.filter(tags="a").count() == 2
    assert Post.objects.exclude(status="draft").order_by("-year").first().title.hget() == "Tagged"
    assert Post(title="New").pk.get() == "9"  # pks 1-8 were taken (5 deleted)
    assert len(Post.objects) == 8
