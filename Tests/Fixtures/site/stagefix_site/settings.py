# Settings for the rig's staging site: production-ish only when the server's .env is loaded (as in the TDD book's superlists).
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

if "DJANGO_DEBUG_FALSE" in os.environ:
    # The live site: everything comes from the environment (.env, loaded by whoever starts the process).
    DEBUG = False
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
    ALLOWED_HOSTS = [os.environ["SITENAME"], *filter(None, os.environ.get("DJANGO_EXTRA_ALLOWED_HOSTS", "").split(","))]
    DB_PATH = os.environ["DJANGO_DB_PATH"]
    # Served over https (gunicorn with the rig's certificate), as a staging site is: cookies only over TLS.
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
else:
    # No env: dev mode with a different key and a different database, so anything made here is useless to the live site.
    DEBUG = True
    SECRET_KEY = "insecure-dev-key-not-for-the-staging-site"
    ALLOWED_HOSTS = []
    DB_PATH = BASE_DIR / "db.dev.sqlite3"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rigtools",
]
# `accounts` holds create_session; a site without one (STAGEFIX_RIG_CREATE_SESSION=none) tests stagefix's own sessions.
if os.environ.get("STAGEFIX_RIG_CREATE_SESSION") != "none":
    INSTALLED_APPS.append("accounts")

# Variants of the rig site (set in its .env by `scripts/rig up --site-env`).
SESSION_ENGINE = os.environ.get("STAGEFIX_RIG_SESSION_ENGINE", "django.contrib.sessions.backends.db")
SESSION_COOKIE_NAME = os.environ.get("STAGEFIX_RIG_COOKIE_NAME", "sessionid")
# Hostile cookie settings for stagefix's tests (issue 16), written into a mirror site's .env by the test.
SESSION_COOKIE_DOMAIN = os.environ.get("STAGEFIX_RIG_COOKIE_DOMAIN") or None
SESSION_COOKIE_PATH = os.environ.get("STAGEFIX_RIG_COOKIE_PATH", "/")
SESSION_COOKIE_AGE = int(os.environ.get("STAGEFIX_RIG_COOKIE_AGE", "1209600"))
# A cache every process of the site shares (the runner and the web server), for the cache session engine.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(BASE_DIR / "cache")}}

# Mail as the .env says: Django's file backend (a folder the tests read over SFTP) or SMTP (a capture server).
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("DJANGO_EMAIL_FILE_PATH", str(BASE_DIR / "sent_emails"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))

# One line per interpreter that loads these settings: tests count Django starts on the server.
with open(BASE_DIR / "starts.log", "a") as _starts:
    _starts.write("%d %s\n" % (os.getpid(), os.environ.get("SITENAME", "-")))

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "stagefix_site.urls"
STATIC_URL = "static/"
TEMPLATES = []

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB_PATH,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "INFO"},
}
