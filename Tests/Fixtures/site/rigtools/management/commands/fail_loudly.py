# `manage.py fail_loudly [--quote-secret]`: raises, so tests see how a failing management command is
# reported; with --quote-secret its message carries the secret key, which stagefix must mask.
import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--quote-secret", action="store_true")

    def handle(self, *args, **options):
        if options["quote_secret"]:
            raise ValueError("cannot connect with key %s" % os.environ.get("DJANGO_SECRET_KEY"))
        raise ValueError("the rig's fail_loudly command failed on purpose")
