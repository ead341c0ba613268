#!/bin/sh
# pipeline.sh: functional tests against the staging server with stagefix, as one plain POSIX shell
# step for any CI (GitLab, Jenkins, Buildkite...). Run it at the Django project's root (playbooks/,
# stagefix.yml, manage.py):
#
#   examples/ci/pipeline.sh                      # tests: python manage.py test functional_tests
#   examples/ci/pipeline.sh pytest tests/functional
#
# 1. stagefix play playbooks/provision-env.yml --host $STAGING_HOST
# 2. stagefix lock $STAGING_HOST -- python manage.py test functional_tests   (TEST_SERVER=$STAGING_HOST)
# 3. stagefix play playbooks/smoke.yml --host $STAGING_HOST
#
# Environment (secrets from the CI's secret store, never on a command line):
#   STAGING_HOST           required: the staging host's name, as in stagefix.yml
#   STAGING_SSH_KEY        required: the private key (its contents)
#   STAGING_KNOWN_HOSTS    required: the host's known_hosts line(s) (their contents)
#   STAGING_SSH_USER       the login user (default: deploy)
#   STAGING_SSH_HOSTNAME   where to connect, when not the name itself (ssh_config HostName)
#   STAGING_SSH_PORT       the SSH port (default 22)
#   STAGEFIX               the stagefix binary (default: stagefix on PATH)
#   EMAIL_PASSWORD         copied into the server's env file by provision-env.yml (from_local)
#   SMOKE_BASE_URL, SMOKE_PAGE   smoke.yml's base_url (default https://HOST) and page (default /)
#
# Exit status: 0 all passed; otherwise the failing step's status. 77 means the production guard
# refused the host: nothing ran on it and the pipeline fails loudly; there is no override.
set -eu

log() { printf 'pipeline: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 64; }

: "${STAGING_HOST:?set STAGING_HOST to the staging host}"
: "${STAGING_SSH_KEY:?set STAGING_SSH_KEY (a secret) to the SSH private key}"
: "${STAGING_KNOWN_HOSTS:?set STAGING_KNOWN_HOSTS (a secret) to the host known_hosts line(s)}"
STAGING_SSH_USER=${STAGING_SSH_USER:-deploy}
STAGING_SSH_HOSTNAME=${STAGING_SSH_HOSTNAME:-}
STAGING_SSH_PORT=${STAGING_SSH_PORT:-}
STAGEFIX=${STAGEFIX:-stagefix}

# These end up in an ssh_config file: one plain word each.
for value in "$STAGING_HOST" "$STAGING_SSH_USER" "$STAGING_SSH_HOSTNAME" "$STAGING_SSH_PORT"; do
    case $value in
        *[!A-Za-z0-9._@:-]*) die "STAGING_HOST/STAGING_SSH_USER/STAGING_SSH_HOSTNAME/STAGING_SSH_PORT: unexpected character in '$value'" ;;
    esac
done
command -v "$STAGEFIX" >/dev/null 2>&1 || die "no stagefix binary '$STAGEFIX' (set STAGEFIX or PATH)"

if [ "$#" -eq 0 ]; then
    set -- python manage.py test functional_tests
fi

# The key, known_hosts and an ssh_config in a private folder, removed however the script ends.
workdir=$(mktemp -d "${TMPDIR:-/tmp}/stagefix-pipeline.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
chmod 700 "$workdir"
(umask 077 && printf '%s\n' "$STAGING_SSH_KEY" >"$workdir/id_staging")
printf '%s\n' "$STAGING_KNOWN_HOSTS" >"$workdir/known_hosts"
{
    printf 'Host %s\n' "$STAGING_HOST"
    if [ -n "$STAGING_SSH_HOSTNAME" ]; then printf '    HostName %s\n' "$STAGING_SSH_HOSTNAME"; fi
    if [ -n "$STAGING_SSH_PORT" ]; then printf '    Port %s\n' "$STAGING_SSH_PORT"; fi
    printf '    User %s\n' "$STAGING_SSH_USER"
    printf '    IdentityFile %s\n' "$workdir/id_staging"
    printf '    IdentitiesOnly yes\n'
    printf '    UserKnownHostsFile %s\n' "$workdir/known_hosts"
    printf '    StrictHostKeyChecking yes\n'
} >"$workdir/ssh_config"
ssh_config=$workdir/ssh_config

# For the tests: the TDD-book FunctionalTest reads TEST_SERVER; the stagefix Python client
# (Stagefix.from_env(), the pytest plugin) reads these.
TEST_SERVER=$STAGING_HOST
STAGEFIX_SSH_CONFIG=$ssh_config
STAGEFIX_BINARY=$STAGEFIX
export TEST_SERVER STAGEFIX_SSH_CONFIG STAGEFIX_BINARY

guard_refused() { # STEP
    log "####################################################################################"
    log "REFUSED BY THE PRODUCTION GUARD (exit 77) at step: $1"
    log "stagefix did not identify '$STAGING_HOST' as a staging server. NOTHING was run on it."
    log "If that is production, this pipeline points at the wrong host: fix STAGING_HOST."
    log "If it really is staging, see why with: stagefix guard $STAGING_HOST"
    log "and mark it in stagefix.yml (hosts: $STAGING_HOST: role: staging). There is no override flag."
    log "####################################################################################"
    if [ "${GITHUB_ACTIONS:-}" = true ]; then
        printf '::error title=REFUSED BY THE PRODUCTION GUARD::%s is not identified as staging; nothing was run\n' "$STAGING_HOST"
    fi
    exit 77
}

# step NAME KIND COMMAND...: runs COMMAND; on failure says why and exits with its status.
# KIND is "stagefix" (the status is stagefix's) or "tests" (the status is the test suite's,
# except stagefix lock's own failures).
step() {
    name=$1 kind=$2
    shift 2
    log "==== $name"
    status=0
    "$@" || status=$?
    if [ "$status" -eq 0 ]; then
        log "---- $name: ok"
        return 0
    fi
    case $status in
        77) guard_refused "$name" ;;
        64) why="usage error (a bug in this pipeline or an unsupported stagefix version)" ;;
        65) why="bad input: a playbook, var, email or the server's env file" ;;
        67) why="SSH authentication failed: check STAGING_SSH_KEY and the user's authorized_keys" ;;
        69) why="staging host unreachable (DNS, refused, connection lost)" ;;
        75) why="timed out (or another run holds the staging fixture lock)" ;;
        76) why="host key unknown or changed: check STAGING_KNOWN_HOSTS; never turn host key checking off" ;;
        78) why="configuration error in stagefix.yml or the generated ssh_config" ;;
        *)
            if [ "$kind" = tests ]; then
                why="the tests failed"
            elif [ "$status" -eq 1 ]; then
                why="a remote command or a playbook step failed"
            else
                why="unexpected status"
            fi
            ;;
    esac
    log "FAILED at step: $name: $why (exit $status)"
    exit "$status"
}

provision() {
    "$STAGEFIX" play playbooks/provision-env.yml -F "$ssh_config" --host "$STAGING_HOST"
}

smoke() {
    set -- play playbooks/smoke.yml -F "$ssh_config" --host "$STAGING_HOST"
    if [ -n "${SMOKE_BASE_URL:-}" ]; then set -- "$@" --var "base_url=$SMOKE_BASE_URL"; fi
    if [ -n "${SMOKE_PAGE:-}" ]; then set -- "$@" --var "page=$SMOKE_PAGE"; fi
    "$STAGEFIX" "$@"
}

step "provision the env file" stagefix provision
step "functional tests (holding the staging lock)" tests \
    "$STAGEFIX" lock -F "$ssh_config" "$STAGING_HOST" -- "$@"
step "smoke test" stagefix smoke
log "all steps passed on $STAGING_HOST"
