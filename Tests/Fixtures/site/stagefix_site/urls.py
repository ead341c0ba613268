# URL routes of the rig site: /, /whoami/ and the magic-link login.
from django.urls import path

from rigtools import views as login_views

from . import views

urlpatterns = [
    path("", views.home),
    path("whoami/", views.whoami),
    path("accounts/send_login_email", login_views.send_login_email),
    path("accounts/login", login_views.login, name="login"),
]
