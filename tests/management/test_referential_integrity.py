"""Referential integrity in the commands (issue 21): ``limpyd_flush`` refuses a model
that related fields of other models point to unless ``--cascade``, keeps the AutoPK
counter unless ``--reset-pk``; ``limpyd_index check`` and ``consistency_check``
report dangling pointers, ``check --repair`` clears them (real Redis)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from django.core.management.base import CommandError

from django_limpyd import fields, registry
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import (
    FKInstanceHashField,
    FKStringField,
    M2MListField,
    M2MSetField,
    M2MSortedSetField,
    RelatedModel,
)
from django_limpyd.contrib.related.integrity import (
    clear_dangling,
    find_dangling,
    pointing_fields,
)
from django_limpyd.management.commands import limpyd_index
from tests.management.conftest import dump_all, keys_of, run

MODULE = "tests.apps.blog.redis_models"  # defined in the blog app for one test


@pytest.fixture
def press() -> Iterator[SimpleNamespace]:
    """``blog.Writer`` (with a self foreign key), ``blog.Article`` pointing to it with a
    foreign key and every kind of many-to-many field, and ``blog.Note`` pointing to
    ``Article``."""
    writer = type(
        "Writer",
        (RelatedModel,),
        {
            "__module__": MODULE,
            "name": fields.InstanceHashField(indexable=True),
            "mentor": FKStringField("self", related_name="mentees"),
        },
    )
    article = type(
        "Article",
        (RelatedModel,),
        {
            "__module__": MODULE,
            "title": fields.InstanceHashField(indexable=True),
            "writer": FKInstanceHashField(writer, related_name="articles"),
            "reviewers": M2MSetField(writer, related_name="reviewed"),
            "queue": M2MListField(writer, related_name="queued"),
            "ranking": M2MSortedSetField(writer, related_name="ranked"),
        },
    )
    note = type(
        "Note",
        (RelatedModel,),
        {
            "__module__": MODULE,
            "text": fields.StringField(),
            "article": FKStringField(article, related_name="notes"),
        },
    )
    yield SimpleNamespace(Writer=writer, Article=article, Note=note)
    for model in (note, article, writer):
        registry.unregister(model)


@pytest.fixture
def filled(press: SimpleNamespace) -> SimpleNamespace:
    """Two writers (the second mentored by the first), two articles pointing to them."""
    ann = press.Writer(name="Ann")
    bob = press.Writer(name="Bob", mentor=ann)
    first = press.Article(title="First", writer=ann)
    first.reviewers.sadd(ann, bob)
    first.queue.rpush(bob, ann, bob)
    first.ranking.zadd({ann: 2, bob: 1})
    second = press.Article(title="Second", writer=bob)
    second.reviewers.sadd(bob)
    press.Note(text="see", article=first)
    return SimpleNamespace(ann=ann, bob=bob, first=first, second=second, **vars(press))


def writer_keys(raw, press) -> set[str]:
    return keys_of(raw[0], press.Writer)


# -- limpyd_flush ---------------------------------------------------------------------


def test_flush_of_a_target_is_refused_naming_the_pointing_fields(filled, raw):
    before = dump_all(raw[0])
    with pytest.raises(CommandError) as error:
        run("limpyd_flush", "blog.Writer", "--noinput")
    assert str(error.value) == (
        "Cannot flush blog.Writer: related fields of other models point to it: "
        "blog.Article.writer (FKInstanceHashField), blog.Article.reviewers (M2MSetField), "
        "blog.Article.queue (M2MListField), blog.Article.ranking (M2MSortedSetField).\n"
        "Hint: flush those models too, or add --cascade to clear these fields (and their "
        "index entries) first. Nothing was done."
    )
    assert dump_all(raw[0]) == before
    with pytest.raises(CommandError, match="Cannot flush blog.Writer"):
        run("limpyd_flush", "blog.Writer", dry_run=True)  # a dry run says so too


def test_pointing_fields_skip_the_models_flushed_together(filled):
    assert [f.name for f in pointing_fields([filled.Writer])] == [
        "writer",
        "reviewers",
        "queue",
        "ranking",
    ]  # not Writer.mentor: it goes with the flush
    assert pointing_fields([filled.Writer, filled.Article]) == [filled.Note._meta.fields["article"]]
    assert pointing_fields([filled.Note]) == []


def test_flushing_the_pointing_models_too_is_allowed(filled, raw):
    result = run("limpyd_flush", "blog.Writer", "blog.Article", "blog.Note", "--noinput")
    assert result.lines[-1].startswith("Flushed ")
    for model in (filled.Writer, filled.Article, filled.Note):
        assert keys_of(raw[0], model) == {model._meta.keys.max_pk}


def test_cascade_clears_the_pointers_and_their_index_entries(filled, raw):
    Article = filled.Article
    result = run("limpyd_flush", "blog.Writer", "--cascade", "--noinput")
    assert result.lines[:4] == [
        "blog.Article.writer: cleared on 2 instances.",
        "blog.Article.reviewers: cleared on 2 instances.",
        "blog.Article.queue: cleared on 1 instance.",
        "blog.Article.ranking: cleared on 1 instance.",
    ]
    assert (
        result.lines[-1].startswith("Flushed ")
        and "from the 'default' database." in (result.lines[-1])
    )
    assert writer_keys(raw, filled) == {"{blog:Writer}:max"}
    # the articles (and the note pointing to one) are still there, without pointers
    first, second = Article(filled.first.pk.get()), Article(filled.second.pk.get())
    assert first.title.hget() == "First" and second.title.hget() == "Second"
    assert first.writer.hget() is None and second.writer.hget() is None
    assert first.reviewers.smembers() == set() and first.queue.lrange(0, -1) == []
    assert first.ranking.zrange(0, -1) == []
    assert filled.Note.collection(article=first.pk.get()).count() == 1
    # no index entry of a pointer is left: the indexes are exact
    for model in (Article, filled.Note):
        assert consistency_check(model) == []
    assert not [key for key in keys_of(raw[0], Article) if ":x:writer:" in key]
    assert Article.collection(writer=filled.ann.pk.get()).count() == 0
    # the AutoPK counter went on: a new writer does not inherit anything
    new = filled.Writer(name="Q")
    assert new.pk.get() == "3"
    assert new.articles().count() == 0


def test_cascade_dry_run_and_confirmation_name_the_fields(filled, raw, monkeypatch):
    before = dump_all(raw[0])
    result = run("limpyd_flush", "blog.Writer", "--cascade", dry_run=True)
    count = len(writer_keys(raw, filled)) - 1
    assert result.lines == [
        f"Dry run: {count} keys would be deleted from the 'default' database:",
        f"    blog.Writer: {count} keys",
        "    blog.Article.writer (FKInstanceHashField): cleared on every instance",
        "    blog.Article.reviewers (M2MSetField): cleared on every instance",
        "    blog.Article.queue (M2MListField): cleared on every instance",
        "    blog.Article.ranking (M2MSortedSetField): cleared on every instance",
    ]
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or "no")
    assert run("limpyd_flush", "blog.Writer", "--cascade").lines == ["Flush cancelled."]
    assert "blog.Article.queue (M2MListField): cleared on every instance\n" in prompts[0]
    assert dump_all(raw[0]) == before


def test_the_autopk_counter_survives_unless_reset_pk(filled, raw):
    run("limpyd_flush", "blog.Note", "--noinput")
    assert keys_of(raw[0], filled.Note) == {"{blog:Note}:max"}
    assert filled.Note(text="again").pk.get() == "2"
    result = run("limpyd_flush", "blog.Note", "--noinput", "--reset-pk")
    assert keys_of(raw[0], filled.Note) == set()
    assert result.lines[0] == "blog.Note: 3 keys deleted."  # pks, max, the text
    assert filled.Note(text="restart").pk.get() == "1"
    # only the counter left: nothing to flush (it is not counted)
    run("limpyd_flush", "blog.Note", "--noinput")
    assert run("limpyd_flush", "blog.Note", "--noinput").lines == [
        "Nothing to flush: no keys of these models on 'default'."
    ]


# -- dangling pointers ----------------------------------------------------------------


def break_writers(raw, press) -> None:
    """What an old ``limpyd_flush blog.Writer`` did: every key gone, pointers left."""
    raw[0].delete(*writer_keys(raw, press))


def test_consistency_check_reports_dangling_pointers(filled, raw):
    assert consistency_check(filled.Article) == []
    filled.Writer(filled.bob.pk.get())  # exists
    raw[0].zrem("{blog:Writer}:pks", filled.ann.pk.get())  # as if Ann was flushed
    first, second = filled.first.pk.get(), filled.second.pk.get()
    assert consistency_check(filled.Article) == [
        f"Article.writer dangling pointer: instance {first!r} points to Writer '1', "
        "which does not exist",
        f"Article.reviewers dangling pointer: instance {first!r} points to Writer '1', "
        "which does not exist",
        f"Article.queue dangling pointer: instance {first!r} points to Writer '1', "
        "which does not exist",
        f"Article.ranking dangling pointer: instance {first!r} points to Writer '1', "
        "which does not exist",
    ]
    problems = consistency_check(filled.Writer)
    assert problems[-2:] == [
        "Writer: orphan key '{blog:Writer}:h:1' (pk not in the model)",
        "Writer.mentor dangling pointer: instance '2' points to Writer '1', which does not exist",
    ]
    assert second not in str(consistency_check(filled.Article))


def test_clear_dangling_keeps_values_whose_target_exists_again(filled, raw):
    break_writers(raw, filled)
    pointers = find_dangling(filled.Article)
    assert {(p.field.name, p.pk, p.values) for p in pointers} == {
        ("writer", "1", ("1",)),
        ("reviewers", "1", ("1", "2")),
        ("queue", "1", ("1", "2")),
        ("ranking", "1", ("1", "2")),
        ("writer", "2", ("2",)),
        ("reviewers", "2", ("2",)),
    }
    raw[0].zadd("{blog:Writer}:pks", {"2": 2})  # Bob is back before the repair
    cleared = {(p.field.name, p.pk): clear_dangling(p) for p in pointers}
    assert cleared[("reviewers", "1")] == 1 and cleared[("writer", "2")] == 0
    article = filled.Article(filled.first.pk.get())
    assert article.reviewers.smembers() == {"2"} and article.queue.lrange(0, -1) == ["2", "2"]
    assert article.writer.hget() is None
    assert consistency_check(filled.Article) == []


def test_index_check_reports_and_repair_clears_dangling_pointers(filled, raw):
    break_writers(raw, filled)
    with pytest.raises(CommandError, match=r"^6 differences remain\. Hint: run again with"):
        run("limpyd_index", "check", "blog.Article")
    result = run("limpyd_index", "check", "blog.Article", "--repair")
    assert result.lines[0] == "blog.Article: 6 differences"
    assert (
        "  Article.reviewers dangling pointer: instance '1' points to Writer '1', '2', "
        "which do not exist" in result.lines
    )
    assert result.lines[-2:] == [
        "blog.Article: 6 dangling pointers cleared.",
        "blog.Article: OK after repair",
    ]
    assert run("limpyd_index", "check", "blog.Article").lines == ["blog.Article: OK"]
    article = filled.Article(filled.first.pk.get())
    assert article.title.hget() == "First" and article.writer.hget() is None
    assert article.queue.lrange(0, -1) == [] and article.ranking.zrange(0, -1) == []
    assert consistency_check(filled.Article) == []


def test_index_check_of_one_related_field(filled, raw):
    break_writers(raw, filled)
    with pytest.raises(CommandError, match="^2 differences remain"):
        run("limpyd_index", "check", "blog.Article.writer")
    run("limpyd_index", "check", "blog.Article.writer", "--repair")
    assert [p.field.name for p in find_dangling(filled.Article)] == [
        "reviewers",
        "reviewers",
        "queue",
        "ranking",
    ]


def test_index_check_and_rebuild_show_progress_on_stderr(filled, raw):
    for number in range(8):
        filled.Article(title=f"t{number}", writer=filled.ann)
    command = limpyd_index.Command()
    command.progress_every = 5
    result = run(command, "check", "blog.Article", chunk_size=4)
    # 10 articles read once per index (title, writer, reviewers, queue, ranking) and once
    # per related field (4): 90 instances, a line every 5 at least, on stderr only
    lines = result.stderr.splitlines()
    assert lines[0] == "blog.Article check: 8/90 instances read (8%)"
    assert lines[-1] == "blog.Article check: 90/90 instances read (100%)"
    assert result.lines == ["blog.Article: OK"]
    command = limpyd_index.Command()
    command.progress_every = 5
    result = run(command, "rebuild", "blog.Article.writer", chunk_size=4)
    assert result.stderr.splitlines() == [
        "blog.Article.writer: 8/10 instances read (80%)",
        "blog.Article.writer: 10/10 instances read (100%)",
    ]
    assert run(command, "rebuild", "blog.Article", verbosity=0).stderr == ""
