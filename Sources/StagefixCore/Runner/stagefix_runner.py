# stagefix's Django runner: started on the server by the site's own interpreter, in the project folder,
# it reads the site's env as data on stdin (never a command line), loads Django exactly as manage.py
# does, then answers line-delimited JSON requests on the same channel: flush, sessions, call_command,
# settings, the database environment marker. One process serves every step of a stagefix invocation.
# No third-party imports; Python 3.8+, Django 4.2 to 6.x.
import io
import json
import os
import re
import sys
import time
import traceback

# The protocol owns the original stdout; anything else printing (settings, commands, warnings) goes to stderr.
_protocol = os.fdopen(os.dup(1), "wb", buffering=0)
os.dup2(2, 1)
sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), encoding="utf-8", errors="replace", write_through=True)
_input = sys.stdin.buffer

MARKER_TABLE = "stagefix_environment"


class Refused(Exception):
    """A destructive step the database marker forbids (stagefix exits 77)."""


class Problem(Exception):
    """A request that cannot be served as asked; `kind` tells stagefix which exit code."""

    def __init__(self, kind, message):
        Exception.__init__(self, message)
        self.kind = kind


def send(obj):
    _protocol.write(json.dumps(obj, sort_keys=True, default=str).encode("utf-8") + b"\n")


def read_block():
    """A length line, then that many bytes of JSON."""
    line = _input.readline()
    if not line:
        return None
    return json.loads(_input.read(int(line)).decode("utf-8"))


def load_django(manage):
    """Runs manage.py as `python manage.py` would, stopping where it would hand over to Django."""
    import django.core.management as management

    path = os.path.abspath(os.path.expanduser(manage))
    sys.path.insert(0, os.path.dirname(path))
    sys.argv = [path, "stagefix-runner"]
    original = management.execute_from_command_line
    reached = []
    management.execute_from_command_line = lambda argv=None: reached.append(True)
    try:
        with open(path, "rb") as source:
            code = compile(source.read(), path, "exec")
        exec(code, {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__})
    except SystemExit:
        pass
    finally:
        management.execute_from_command_line = original
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise Problem("configuration", "%s did not set DJANGO_SETTINGS_MODULE" % manage)
    import django

    django.setup()
    return bool(reached)


def marker_role(connection):
    """The role recorded in the site's own database, or None."""
    with connection.cursor() as cursor:
        if MARKER_TABLE not in connection.introspection.table_names(cursor):
            return None
        cursor.execute("SELECT role FROM %s WHERE id = 1" % connection.ops.quote_name(MARKER_TABLE))
        row = cursor.fetchone()
        return row[0] if row else None


def check_marker(context, request=None):
    """Before any write, in the process that writes: the database must not be production's (by its
    marker, or by a name or path naming a production host), and must carry the role the guard relied on."""
    from django.db import connection

    where = describe_database(connection)
    role = marker_role(connection)
    if role == "production":
        raise Refused("the database %s is marked production (table %s); nothing was changed" % (where, MARKER_TABLE))
    check_database_name(where, context)
    required = (request or {}).get("require_role")
    if required and role != required:
        raise Refused("the guard allowed this site on its database's %s marker, but the database %s is %s now; nothing was changed"
                      % (required, where, ("marked %s" % role) if role else "not marked"))
    if role is None and context["require_marker"]:
        raise Refused("the database %s carries no environment marker and guard.require_db_marker is on; run `stagefix db mark HOST staging` on the staging host" % where)
    return role


def check_database_name(where, context):
    """A staging site pointed at production's database: its name or path names a production host."""
    import fnmatch

    for word in re.split(r"[/\s@:]+", where.lower()):
        # Host-like words only (site folders are named after their sites): not users or file names.
        if "." in word.strip(".") and not word.endswith((".sqlite3", ".sqlite", ".db")) and any(fnmatch.fnmatchcase(word, pattern) for pattern in context["production_patterns"]):
            raise Refused("the database %s names %s, a production host; a staging site must not write to it (fix the site's database settings)" % (where, word))


def check_lock(spec):
    """The host's fixture lock, held by another run, makes a destructive request wait (stagefix
    retries it); a lock whose record names one of `nonces` (ours, or our parent's) does not."""
    path = lock_path(spec["path"])
    try:
        mtime = int(os.stat(path).st_mtime)
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except FileNotFoundError:
        return
    except OSError:
        mtime, text = 0, ""
    if any(nonce and nonce in text for nonce in spec.get("nonces") or []):
        return
    raise Problem("locked", json.dumps({"now": int(time.time()), "mtime": mtime, "record": text}))


class _Relay(io.TextIOBase):
    """A management command's stdout or stderr, sent to stagefix as it is written."""

    def __init__(self, stream):
        io.TextIOBase.__init__(self)
        self.stream = stream

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if text:
            send({"stream": self.stream, "data": text})
        return len(text)


def manage(args):
    """Any management command through call_command, its output relayed; returns its exit status."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = _Relay("stdout"), _Relay("stderr")
    saved = sys.stdout, sys.stderr, sys.stdin
    # stdin is the protocol: a command that asks for input gets end-of-file, never our requests.
    sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO("")
    status = 0
    try:
        call_command(*args, stdout=out, stderr=err)
    except CommandError as error:
        err.write("CommandError: %s\n" % error)
        status = getattr(error, "returncode", 1) or 1
    except SystemExit as error:
        status = error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    except Exception:
        err.write(traceback.format_exc())
        status = 1
    finally:
        sys.stdout, sys.stderr, sys.stdin = saved
    return {"exit": status}


def describe_database(connection):
    settings = connection.settings_dict
    name = settings.get("NAME")
    host = settings.get("HOST")
    return "%s%s" % (name, (" on " + host) if host else "")


def write_marker(role, context):
    from django.db import connection

    current = marker_role(connection)
    if current == "production":
        raise Refused("the database %s is marked production; stagefix never writes to a production database" % describe_database(connection))
    check_database_name(describe_database(connection), context)
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(MARKER_TABLE)
        if MARKER_TABLE not in connection.introspection.table_names(cursor):
            cursor.execute("CREATE TABLE %s (id integer PRIMARY KEY, role varchar(20) NOT NULL)" % table)
        cursor.execute("DELETE FROM %s" % table)
        cursor.execute("INSERT INTO %s (id, role) VALUES (1, %%s)" % table, [role])
    return role


def captured_call(*args, **options):
    """call_command with its output captured; an exception becomes a typed problem with its last line."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err, **options)
    except CommandError as error:
        raise Problem("command", "%s: %s" % (args[0], error))
    except Exception as error:
        last = "%s: %s" % (type(error).__name__, error)
        raise Problem("command", "manage.py %s raised %s" % (args[0], last.strip().splitlines()[-1] if last.strip() else type(error).__name__))
    return out.getvalue(), err.getvalue()


def cookie_settings():
    from django.conf import settings

    samesite = getattr(settings, "SESSION_COOKIE_SAMESITE", "Lax")
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "domain": settings.SESSION_COOKIE_DOMAIN,
        "path": settings.SESSION_COOKIE_PATH,
        "secure": bool(settings.SESSION_COOKIE_SECURE),
        "httponly": bool(settings.SESSION_COOKIE_HTTPONLY),
        "samesite": samesite if samesite else "None",
        "age": int(settings.SESSION_COOKIE_AGE),
    }


def session_store(session_key=None):
    from importlib import import_module
    from django.conf import settings

    return import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)


def why_not_logged_in(session_key):
    """What django.contrib.auth.get_user would make of this key: None if it logs the user in."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.utils.crypto import constant_time_compare

    session = session_store(session_key)
    user_id = session.get(SESSION_KEY)
    if user_id is None:
        return "the session holds no user (%s missing, or the key is unknown to %s)" % (SESSION_KEY, settings.SESSION_ENGINE)
    backend_path = session.get(BACKEND_SESSION_KEY)
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return "the session's backend %r is not in AUTHENTICATION_BACKENDS" % (backend_path,)
    from django.contrib.auth import get_user_model

    backend = load_backend(backend_path)
    user = backend.get_user(get_user_model()._meta.pk.to_python(user_id))
    if user is None:
        return "no active user with pk %s" % user_id
    if hasattr(user, "get_session_auth_hash"):
        stored = session.get(HASH_SESSION_KEY)
        if not stored:
            return "the session has no %s, so Django logs nobody in for this user model (the book's create_session never sets it)" % HASH_SESSION_KEY
        if not constant_time_compare(stored, user.get_session_auth_hash()):
            fallbacks = getattr(user, "_get_session_auth_hash", None)
            keys = getattr(settings, "SECRET_KEY_FALLBACKS", [])
            if not (fallbacks and any(constant_time_compare(stored, fallbacks(secret=k)) for k in keys)):
                return "the session's %s does not match the user's (made with another SECRET_KEY or password)" % HASH_SESSION_KEY
    return None


def builtin_session(email, staff, superuser, groups):
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    User = get_user_model()
    field = User.USERNAME_FIELD
    email_field = User.get_email_field_name() if hasattr(User, "get_email_field_name") else "email"
    user = User._default_manager.filter(**{field: email}).first()
    if user is None:
        values = {field: email}
        if email_field != field and any(f.name == email_field for f in User._meta.get_fields()):
            values[email_field] = email
        user = User(**values)
        if hasattr(user, "set_unusable_password"):
            user.set_unusable_password()
        user.save()
    changed = []
    if staff and not getattr(user, "is_staff", True):
        user.is_staff = True
        changed.append("is_staff")
    if superuser and not getattr(user, "is_superuser", True):
        user.is_superuser = user.is_staff = True
        changed += ["is_superuser", "is_staff"]
    if changed:
        user.save(update_fields=sorted(set(changed)))
    if groups:
        from django.contrib.auth.models import Group

        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    session = session_store()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    if hasattr(user, "get_session_auth_hash"):
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


SESSION_KEY = re.compile(r"^([a-z0-9]{8,64}|[A-Za-z0-9._:-]*:[A-Za-z0-9._:-]*)$")


def site_session(email):
    """The site's own `create_session EMAIL`: its last line if that looks like a key, and its output
    (stagefix reads the key from it, and shows its tail when the last line is not one)."""
    out, _ = captured_call("create_session", email)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    key = lines[-1] if lines and SESSION_KEY.match(lines[-1]) else None
    return key, out


def site_signature(paths):
    """Modification times and sizes of the files a deploy changes (the warm agent's freshness check)."""
    parts = []
    for path in paths:
        try:
            info = os.stat(os.path.expanduser(path))
            parts.append("%s %d %d" % (path, info.st_mtime_ns, info.st_size))
        except OSError:
            parts.append("%s -" % path)
    return "\n".join(parts)


def lock_path(path):
    """The fixture lock's path, relative to the login directory (as the shell's is)."""
    return path if os.path.isabs(path) else os.path.join(os.path.expanduser("~"), path)


def lock_acquire(path, record):
    """The shell's `set -C; cat >LOCK` (O_EXCL), or what holds it: the server's clock, the lock's
    mtime (its last heartbeat) and its text, as the shell version reports them."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        try:
            mtime = int(os.stat(path).st_mtime)
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            mtime, text = 0, ""
        return {"held": {"now": int(time.time()), "mtime": mtime, "record": text}}
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(record)
    return {"acquired": True}


def lock_release(path, nonce):
    """Removes the lock only while it still names our nonce (someone may have broken and retaken it)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            ours = nonce in handle.read()
    except FileNotFoundError:
        return {"released": False}
    if ours:
        os.unlink(path)
    return {"released": ours}


def serve(request, context):
    expected = request.get("expect_signature")
    if expected is not None and expected != site_signature(context["watch"]):
        raise Problem("stale", "the site changed since this runner started (a deploy?)")
    if request.get("lock"):
        check_lock(request["lock"])
    op = request.get("op")
    if op == "steps":
        # Several requests in one round trip (flush, then sessions: the per-test fixture); the first
        # failure answers for all, and nothing after it runs.
        results = []
        for index, step in enumerate(request.get("steps") or []):
            for key in ("require_role",):
                if key in request and key not in step:
                    step[key] = request[key]
            if step.get("op") in ("steps", "quit"):
                raise Problem("usage", "a steps request cannot hold %r" % step.get("op"))
            started = time.monotonic()
            try:
                result = serve(step, context)
            except Exception as error:
                error.failed_step = index  # the answer says which step failed
                raise
            result["ms"] = round((time.monotonic() - started) * 1000, 1)
            results.append(result)
        return {"results": results}
    if op == "flush":
        from django.db import transaction

        check_marker(context, request)
        # One transaction around the flush and the post_migrate rows it re-creates: one commit, not dozens.
        with transaction.atomic():
            captured_call("flush", interactive=False, verbosity=0)
        return {"flushed": True}
    if op == "sessions":
        check_marker(context, request)
        builtin = request.get("builtin") or not context["has_create_session"]
        sessions = []
        for email in request["emails"]:
            output = None
            if builtin:
                key = builtin_session(email, request.get("staff"), request.get("superuser"), request.get("groups") or [])
            else:
                key, output = site_session(email)
                if key is None:
                    sessions.append({"email": email, "output": output})
                    continue
            problem = why_not_logged_in(key)
            if problem:
                how = "the site's create_session" if not builtin else "the runner"
                hint = "; use --builtin to let stagefix make the session" if not builtin else ""
                raise Problem("command", "the session %s made for %s would log nobody in: %s%s" % (how, email, problem, hint))
            sessions.append({"email": email, "key": key, "output": output})
        return {"sessions": sessions, "builtin": bool(builtin)}
    if op == "call":
        check_marker(context, request)
        out, err = captured_call(*request["args"])
        return {"stdout": out, "stderr": err}
    if op == "manage":
        check_marker(context, request)
        return manage(request["args"])
    if op == "lock_acquire":
        return lock_acquire(lock_path(request["path"]), request["record"])
    if op == "lock_release":
        return lock_release(lock_path(request["path"]), request["nonce"])
    if op == "mark":
        return {"marker": write_marker(request["role"], context)}
    if op == "marker":
        from django.db import connection

        return {"marker": marker_role(connection), "database": describe_database(connection)}
    raise Problem("usage", "unknown request %r" % op)


def _requests_until_stagefix_leaves():
    """Requests, read on a thread of their own: when stagefix closes our stdin (it quit, timed out or
    died), this process ends at once, even in the middle of a request nobody waits for any more (a
    runaway command must not keep running on the server)."""
    import queue
    import threading

    requests = queue.Queue()

    def read():
        while True:
            try:
                block = read_block()
            except Exception:
                block = None
            if block is None:
                sys.stderr.flush()
                os._exit(0)
            requests.put(block)

    threading.Thread(target=read, name="stagefix-requests", daemon=True).start()
    return requests


def main():
    header = read_block()
    if header is None:
        return
    os.environ.update(header.get("env") or {})
    try:
        load_django(header["manage"])
        from django.conf import settings
        from django.core.management import get_commands

        context = {
            "has_create_session": "create_session" in get_commands(),
            "require_marker": bool(header.get("require_marker")),
            "production_patterns": [p.lower() for p in header.get("production_patterns") or []],
            "watch": header.get("watch") or [],
        }
        identity = {key: os.environ.get(key) for key in header.get("identity_keys") or []}
        identity["ALLOWED_HOSTS"] = ",".join(getattr(settings, "ALLOWED_HOSTS", []) or [])
        import django

        send({"ok": True, "hello": {
            "pid": os.getpid(), "python": sys.version.split()[0], "django": django.get_version(),
            "settings": os.environ.get("DJANGO_SETTINGS_MODULE"), "cookie": cookie_settings(),
            "has_create_session": context["has_create_session"], "identity": identity,
            "session_engine": settings.SESSION_ENGINE, "signature": site_signature(context["watch"]),
        }})
    except Exception as error:
        kind = error.kind if isinstance(error, Problem) else "configuration"
        send({"ok": False, "error": {"kind": kind, "message": "loading Django failed: %s: %s" % (type(error).__name__, error)}})
        traceback.print_exc()
        return
    requests = _requests_until_stagefix_leaves()
    while True:
        request = requests.get()
        if request is None or request.get("op") == "quit":
            return
        try:
            send({"ok": True, "result": serve(request, context)})
        except Refused as error:
            send({"ok": False, "error": {"kind": "guard", "message": str(error), "step": getattr(error, "failed_step", None)}})
        except Problem as error:
            send({"ok": False, "error": {"kind": error.kind, "message": str(error), "step": getattr(error, "failed_step", None)}})
        except Exception as error:
            traceback.print_exc()
            send({"ok": False, "error": {"kind": "command", "message": "%s: %s" % (type(error).__name__, error),
                                         "step": getattr(error, "failed_step", None)}})


main()
