from django_limpyd.forms import RedisModelForm
from tests.apps.blog.redis_models import Post


class PostForm(RedisModelForm):
    class Meta:
        model = Post
        fields = ["title", "status", "year", "tags"]
