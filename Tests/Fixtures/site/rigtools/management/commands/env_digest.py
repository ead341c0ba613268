# `manage.py env_digest KEY...`: a SHA-256 and length per env value, so tests prove values arrived byte-exact without printing them.
import hashlib
import json
import os

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("keys", nargs="+")

    def handle(self, *args, **options):
        digests = {}
        for key in options["keys"]:
            value = os.environ.get(key)
            digests[key] = None if value is None else [hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest(), len(value)]
        self.stdout.write(json.dumps(digests, sort_keys=True))
