# One-time login tokens for the rig's magic-link login (the TDD book's passwordless flow).
import uuid

from django.db import models


def new_uid():
    return uuid.uuid4().hex


class Token(models.Model):
    uid = models.CharField(max_length=64, unique=True, default=new_uid)
    email = models.EmailField()
