#!/usr/bin/env python3
"""The Fabric contender of scripts/benchmark: a staging fixture done the common way with Fabric.

usage: fabric_fixture.py --ssh-config CFG --known-hosts FILE --host HOST [--flush] EMAIL...

As in the TDD book's functional tests: one Connection (host, port, user and key from the
ssh_config), `run("cat ~/sites/HOST/.env")`, KEY=VALUE lines parsed simply, then each management
command run with that env on the same connection. Prints one session key per email.

Run it with the interpreter of the benchmark's venv (`pip install fabric`).
"""
import argparse
import shlex

from fabric import Config, Connection
from paramiko import RejectPolicy


def parse_env(text):
    # The book's parser plus the minimum the rig's .env needs: skip comments and blank lines,
    # drop `export `, split on the first `=`, strip one pair of surrounding quotes.
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):]
        key, value = line.split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ssh-config", required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--flush", action="store_true", help="manage.py flush --noinput first")
    parser.add_argument("emails", nargs="+")
    args = parser.parse_args()

    site = f"~/sites/{args.host}"
    # sshd's default AcceptEnv drops `env` requests, so env= only works inline: Fabric prepends
    # `export K=V ... && ` to the command (inline_ssh_env, the default since Fabric 3).
    # Fabric does not quote those values; a .env value with a space or `#` (the rig's has both)
    # would break the command, so they are shell-quoted here.
    config = Config(runtime_ssh_path=args.ssh_config)
    connection = Connection(
        args.host,
        config=config,
        inline_ssh_env=True,
        connect_kwargs={"allow_agent": False, "look_for_keys": False},  # IdentitiesOnly
    )
    # Fabric ignores UserKnownHostsFile and auto-adds unknown keys; check the rig's key instead.
    connection.client.load_host_keys(args.known_hosts)
    connection.client.set_missing_host_key_policy(RejectPolicy())
    with connection:
        env = parse_env(connection.run(f"cat {site}/.env", hide=True).stdout)
        env = {key: shlex.quote(value) for key, value in env.items()}
        with connection.cd(site):
            if args.flush:
                connection.run(".venv/bin/python manage.py flush --noinput", env=env, hide=True)
            for email in args.emails:
                result = connection.run(f".venv/bin/python manage.py create_session {shlex.quote(email)}",
                                        env=env, hide=True)
                print(result.stdout.strip())


if __name__ == "__main__":
    main()
