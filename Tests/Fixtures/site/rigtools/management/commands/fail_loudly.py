# `manage.py fail_loudly`: raises, so tests see how a failing management command is reported.
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def handle(self, *args, **options):
        raise ValueError("the rig's fail_loudly command failed on purpose")
