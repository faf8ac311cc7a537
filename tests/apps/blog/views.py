"""The blog's views, written only with ``Post.objects``, Django's shortcuts and Paginator."""

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render

from tests.apps.blog.forms import PostForm
from tests.apps.blog.redis_models import Post

PER_PAGE = 2


def post_list(request):
    posts = Post.objects.exclude(status="draft")
    if request.GET.get("status"):
        posts = posts.filter(status=request.GET["status"])
    if request.GET.get("since"):  # the posts since that year, and the archived ones
        posts = posts.filter(Q(year__gte=request.GET["since"]) | Q(status="archived"))
    posts = posts.order_by("-year", "title")
    page = Paginator(posts, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "blog/post_list.html", {"page": page})


def post_detail(request, pk):
    post = get_object_or_404(Post, pk=pk)
    return render(request, "blog/post_detail.html", {"post": post})


def post_edit(request, pk=None):
    post = get_object_or_404(Post, pk=pk) if pk is not None else None
    form = PostForm(request.POST or None, instance=post)
    if request.method == "POST" and form.is_valid():
        post = form.save()
        if post is not None:  # None: a write error was added to the form
            return redirect("post_detail", pk=post.pk.get())
    return render(request, "blog/post_form.html", {"form": form})
