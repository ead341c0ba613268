# `manage.py create_session EMAIL`: a pre-authenticated session for EMAIL; prints only the session key (TDD book, server-side debugging).
# With STAGEFIX_RIG_CREATE_SESSION=fragile it is the book's version: no HASH_SESSION_KEY, which current
# Django needs for the standard User, so its key logs nobody in (stagefix must say so, not hand it out).
import os
from importlib import import_module

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a logged-in session for EMAIL (user made if missing) and print its session key."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, **options):
        self.stdout.write(create_pre_authenticated_session(options["email"]))


def create_pre_authenticated_session(email):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    if os.environ.get("STAGEFIX_RIG_CREATE_SESSION") != "fragile":
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key
