#!/bin/sh
# What one small sync spends its time on, and how that grows with the
# commits since the last upkeep: copies a store (a fleet bench's, say
# FLEET_STORE=/var/tmp/fleet150), then one new host appends a user and an
# assistant message to its session and syncs, SYNCS times, with no upkeep
# in between. Prints each sync's wall time, and for the first three and the
# last three the offset (ms from the start) at which each write ended, with
# the write's own time, from pond's debug log.
#
#   benches/sync_timeline.sh STORE_TO_COPY [SYNCS=46] [POND=target's debug pond]
set -eu
src=${1:?usage: sync_timeline.sh STORE_TO_COPY [SYNCS] [POND]}
syncs=${2:-46}
pond=${3:-${CARGO_TARGET_DIR:-target}/debug/pond}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/store"
session=00000000-0000-0000-0000-000000000007
dir="$work/home/.claude/projects/-bench-project"
mkdir -p "$dir"

line() { # role n
    if [ "$1" = user ]; then
        message="{\"role\":\"user\",\"content\":\"question $2\"}"
    else
        message="{\"role\":\"assistant\",\"id\":\"msg_$2\",\"model\":\"claude-sonnet-4\",\"content\":[{\"type\":\"text\",\"text\":\"answer $2\"}],\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}"
    fi
    printf '{"type":"%s","uuid":"%s","parentUuid":null,"sessionId":"%s","timestamp":"2026-01-01T01:00:00.000Z","cwd":"/bench","message":%s}\n' \
        "$1" "$(printf '%08d-0000-0000-0000-%012d' "$3" "$2")" "$session" "$message"
}

i=0
while [ "$i" -lt "$syncs" ]; do
    { line user "$i" 1; line assistant "$i" 2; } >>"$dir/$session.jsonl"
    start=$(date +%s%N)
    HOME="$work/home" XDG_STATE_HOME="$work/state" XDG_DATA_HOME="$work/data" \
        POND_STORE="$work/store" POND_HOST=timeline-host POND_EMBED_MODEL=off \
        CLAUDE_CONFIG_DIR="$work/home/.claude" POND_LOG=pond=debug \
        "$pond" sync claude-code --json >/dev/null 2>"$work/log"
    end=$(date +%s%N)
    echo "sync $i: $(((end - start) / 1000000)) ms"
    if [ "$i" -lt 3 ] || [ "$i" -ge $((syncs - 3)) ]; then
        # Each write's end, in ms from the sync's start, and its own seconds.
        awk -v start="$start" '/secs=/ {
            split($1, t, /[T:Z]/); ns = (t[2] * 3600 + t[3] * 60 + t[4]) * 1e9
            base = start % 86400000000000
            what = $0; sub(/.*pond::store::[a-z_]+: /, "", what)
            printf "    %5.0f ms  %s\n", (ns - base) / 1e6, what
        }' "$work/log"
    fi
    i=$((i + 1))
done
