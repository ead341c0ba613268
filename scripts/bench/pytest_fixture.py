#!/usr/bin/env python3
"""Times the per-test fixture as a pytest suite sees it: the stagefix plugin's `staging_session` in
each of N tests (default 50), warm (the plugin's default: one agent for the run) and cold
(STAGEFIX_WARM=0), against a rig. Each test's fixture call is timed inside the test; the first
test's call (the agent's start, the first connection and Django start) is reported apart.

usage: scripts/bench/pytest_fixture.py --rig-env DIR/rig.env [--binary PATH] [--tests N] [--python PY]

PY is an interpreter with pytest and the stagefix client installed (default: this one).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SUITE = '''
import json, os, time

import pytest

TIMES = []


@pytest.mark.parametrize("number", range(int(os.environ["BENCH_TESTS"])))
def test_fixture(number, staging_session):
    start = time.perf_counter()
    session = staging_session("bench-%d@example.com" % number)
    TIMES.append(time.perf_counter() - start)
    assert session.key


def teardown_module():
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump(TIMES, out)
'''


def read_env(path):
    values = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.strip().partition("=")
            if name and not name.startswith("#"):
                values[name] = value
    return values


def run(python, rig, binary, tests, warm, folder):
    out = os.path.join(folder, "times-%s.json" % ("warm" if warm else "cold"))
    env = dict(os.environ, STAGEFIX_HOST=rig["RIG_HOST"], STAGEFIX_SSH_CONFIG=rig["RIG_SSH_CONFIG"], STAGEFIX_BINARY=binary,
               STAGEFIX_WARM="1" if warm else "0", BENCH_TESTS=str(tests), BENCH_OUT=out)
    env.pop("TEST_SERVER", None)
    result = subprocess.run([os.path.abspath(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(folder, "test_bench.py")],
                            cwd=folder, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        sys.exit("the %s run failed:\n%s%s" % ("warm" if warm else "cold", result.stdout[-2000:], result.stderr[-2000:]))
    with open(out) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rig-env", required=True)
    parser.add_argument("--binary", default=os.environ.get("STAGEFIX_BINARY") or os.path.join(os.path.dirname(__file__), "../../.build/release/stagefix"))
    parser.add_argument("--tests", type=int, default=50)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    rig = read_env(args.rig_env)
    with tempfile.TemporaryDirectory(prefix="stagefix-bench-pytest-") as folder:
        with open(os.path.join(folder, "test_bench.py"), "w") as f:
            f.write(SUITE)
        print("| plugin's `staging_session`, %d tests | first test | median of the rest | max of the rest |" % args.tests)
        print("| --- | ---: | ---: | ---: |")
        for warm in (True, False):
            times = run(args.python, rig, os.path.abspath(args.binary), args.tests, warm, folder)
            rest = times[1:]
            print("| %s | %.0f ms | %.1f ms | %.1f ms |" % ("warm (default)" if warm else "cold (`STAGEFIX_WARM=0`)", times[0] * 1000,
                                                          statistics.median(rest) * 1000, max(rest) * 1000))


if __name__ == "__main__":
    main()
