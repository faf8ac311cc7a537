"""URLs of the admin-like pages of the default site::

    path("admin/redis/", include("django_limpyd.urls"))

(a site of your own: ``path("redis/", my_site.urls)``). Django's admin must be in
the URLconf too: the pages share its header, sidebar and login.
"""

from django_limpyd.admin.sites import APP_NAME, site

app_name = APP_NAME
urlpatterns = site.get_urls()
