# URL routes of the rig site: / and /whoami/.
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home),
    path("whoami/", views.whoami),
]
