"""Busy-loops until killed: a runaway command for the timeout tests."""
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Spin forever (tests that a timed-out runner ends on the server)."

    def handle(self, *args, **options):
        while True:
            pass
