#!/bin/sh
# Regenerates scripts/rss/hot-functions.order, the functions a `stagefix session create` executes,
# which the Linux release link lays out together (see README.md here). Needs valgrind and a host
# to run against; the arguments are the command's, for example:
#   scripts/rss/generate-order.sh session create staging.example.com edith@example.com
# A stale list costs memory, never correctness: functions it misses are simply laid out elsewhere.
set -eu
cd "$(dirname "$0")/../.."
swift build -c release --product stagefix >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# valgrind cannot read the DWARF swiftc writes; the symbol table is all it needs here.
objcopy --strip-debug .build/release/stagefix "$work/stagefix"
(cd "$work" && valgrind --quiet --tool=callgrind --demangle=no --compress-strings=no \
    --callgrind-out-file="$work/callgrind.out" "$work/stagefix" "$@" >/dev/null)
awk -v binary="$work/stagefix" '
    /^ob=/ { object = substr($0, 4) }
    /^fn=/ { name = substr($0, 4); if (object == binary && name !~ /^0x/ && !(name in seen)) { seen[name] = 1; print name } }
' "$work/callgrind.out" > scripts/rss/hot-functions.order
echo "$(wc -l < scripts/rss/hot-functions.order) functions in scripts/rss/hot-functions.order"
