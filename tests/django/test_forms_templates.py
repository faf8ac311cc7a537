"""``RedisModelForm`` outside the admin, and Redis models in Django templates."""

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Engine

from django_limpyd import fields
from django_limpyd.consistency import consistency_check
from django_limpyd.contrib.related import FKStringField, M2MSetField, RelatedModel
from django_limpyd.forms import RedisModelForm, redis_modelform_factory
from django_limpyd.indexes import EqualIndex, NumberRangeIndex


@pytest.fixture
def models(database):
    class Tag(RelatedModel):
        namespace = "forms"
        name = fields.InstanceHashField(unique=True)

    class Post(RelatedModel):
        namespace = "forms"
        title = fields.InstanceHashField(unique=True)
        status = fields.InstanceHashField(indexable=True)
        year = fields.StringField(indexable=True, indexes=[EqualIndex, NumberRangeIndex])
        body = fields.StringField()
        keywords = fields.ListField()
        author = FKStringField(Tag, related_name="authored")
        tags = M2MSetField(Tag, related_name="posts")
        scores = fields.SortedSetField()

    for model in (Tag, Post):
        model.use_database(database)
    return Tag, Post


def render(source, **context):
    return Engine().from_string(source).render(Context(context))


# -- forms --------------------------------------------------------------------------


def test_form_fields_honour_meta(models):
    _, Post = models

    class PostForm(RedisModelForm):
        class Meta:
            model = Post
            exclude = ["body"]
            widgets = {"title": forms.Textarea}

    assert list(PostForm.base_fields) == [
        *("title", "status", "year", "keywords", "author", "tags", "scores")
    ]
    form = PostForm()
    assert isinstance(form.fields["title"].widget, forms.Textarea)
    assert isinstance(form.fields["status"], forms.CharField)
    assert isinstance(form.fields["tags"], forms.MultipleChoiceField)

    only = redis_modelform_factory(Post, fields=["status", "title"])
    assert list(only.base_fields) == ["status", "title"]
    with pytest.raises(ImproperlyConfigured, match="Meta.fields or Meta.exclude"):
        redis_modelform_factory(Post)
    # a sorted set field has one too (see tests/django/test_formfields.py)
    assert list(redis_modelform_factory(Post, fields=["scores"]).base_fields) == ["scores"]


def test_related_fields_are_choices_of_the_target_pks(models):
    Tag, Post = models
    Tag(name="django"), Tag(name="redis")
    form = redis_modelform_factory(Post, fields=["author", "tags"])()
    assert list(form.fields["author"].choices) == [("", "---------"), ("1", "1"), ("2", "2")]
    assert list(form.fields["tags"].choices) == [("1", "1"), ("2", "2")]
    bad = redis_modelform_factory(Post, fields=["tags"])({"tags": ["3"]})
    assert not bad.is_valid()
    assert "tags" in bad.errors


def test_create_in_one_write_then_update(models):
    Tag, Post = models
    Tag(name="django"), Tag(name="redis")
    PostForm = redis_modelform_factory(Post, fields="__all__")
    form = PostForm(
        {
            "title": "Hello",
            "status": "draft",
            "year": "2024",
            "body": "",
            "keywords": "a\nb\n",
            "author": "1",
            "tags": ["1", "2"],
        }
    )
    assert form.is_valid(), form.errors
    post = form.save()
    assert post.pk.get() == "1"
    assert post.title.hget() == "Hello"
    assert post.keywords.lmembers() == ["a", "b"]
    assert post.tags.smembers() == {"1", "2"}
    assert not post.body.exists()
    assert list(Post.collection(status="draft")) == ["1"]
    assert list(Post.collection(year__gte=2000)) == ["1"]
    assert list(Tag(1).authored()) == ["1"]

    form = PostForm(instance=post)
    assert form.initial["title"] == "Hello"
    assert form.initial["tags"] == ["1", "2"]
    data = {**form.initial, "status": "published", "tags": ["2"], "keywords": "c", "body": "x"}
    data = {name: value for name, value in data.items() if value is not None}
    form = PostForm(data, instance=post)
    assert form.is_valid(), form.errors
    assert sorted(form.changed_data) == ["body", "keywords", "status", "tags"]
    assert form.save() == post
    assert list(Post.collection(status="published")) == ["1"]
    assert list(Post.collection(status="draft")) == []
    assert post.tags.smembers() == {"2"}
    assert post.keywords.lmembers() == ["c"]
    assert post.body.get() == "x"
    assert consistency_check(Post) == []


def test_uniqueness_error_on_the_field(models):
    _, Post = models
    Post(title="Taken")
    other = Post(title="Other")
    PostForm = redis_modelform_factory(Post, fields=["title", "status"])

    form = PostForm({"title": "Taken"})
    assert not form.is_valid()
    assert form.errors["title"] == ["Post with this title already exists."]

    form = PostForm({"title": "Taken"}, instance=other)
    assert not form.is_valid()
    assert "title" in form.errors

    # another writer takes the value between the check and the write
    form = PostForm({"title": "Late"})
    assert form.is_valid()
    Post(title="Late")
    assert form.save() is None
    assert form.errors["title"] == ["Post with this title already exists."]
    assert Post.collection().count() == 3


def test_declared_fields_and_empty_form(models):
    _, Post = models

    class PostForm(RedisModelForm):
        status = forms.ChoiceField(choices=[("draft", "Draft"), ("published", "Published")])

        class Meta:
            model = Post
            fields = ["title", "status"]

    assert isinstance(PostForm.base_fields["status"], forms.ChoiceField)
    form = PostForm({"title": "", "status": "draft"})
    assert form.is_valid()
    assert form.save().status.hget() == "draft"
    form = redis_modelform_factory(Post, fields=["title"])({"title": ""})
    assert form.is_valid()
    assert form.save() is None
    assert form.non_field_errors()


# -- templates ----------------------------------------------------------------------


def test_templates_render_values(models):
    Tag, Post = models
    Tag(name="django"), Tag(name="<b>redis</b>")
    post = Post(title="<script>alert(1)</script>", tags=["1", "2"], keywords=["x", "y"])
    assert str(post) == "Post 1"
    assert repr(post) == "<Post pk='1'>"
    assert repr(post.title) == "<InstanceHashField Post.title>"
    assert str(Post.title) == "<InstanceHashField Post.title>"

    html = render("{{ post }}: {{ post.title }} [{{ post.status }}]", post=post)
    assert html == "Post 1: &lt;script&gt;alert(1)&lt;/script&gt; []"
    assert render("{% autoescape off %}{{ post.title }}{% endautoescape %}", post=post) == (
        "<script>alert(1)</script>"
    )
    html = render(
        "{% for pk in post.tags.smembers %}{{ pk }};{% endfor %}|"
        "{% for tag in post.tags.collection.instances %}{{ tag.name }},{% endfor %}|"
        "{{ post.keywords }}",
        post=post,
    )
    members, names, keywords = html.split("|")
    assert sorted(members.split(";")) == ["", "1", "2"]
    assert sorted(names.split(",")) == ["", "&lt;b&gt;redis&lt;/b&gt;", "django"]
    assert keywords == "x, y"


def test_model_str_is_overridable(models):
    _, Post = models

    class Note(RelatedModel):
        namespace = "forms"
        text = fields.InstanceHashField()

        def __str__(self):
            return self.text.hget()

    Note.use_database(Post._meta.database)
    assert render("{{ note }}", note=Note(text="a & b")) == "a &amp; b"
    assert str(Post()) == "Post (unsaved)"
