#!/bin/sh
# What the upkeep cadence does to small syncs: copies a store (a fleet
# bench's, say FLEET_STORE=/var/tmp/fleet150), compacts it once, then HOSTS
# new hosts take turns, each appending a user and an assistant message to
# its own session and running `pond sync --upkeep` with upkeep due after
# AFTER commits, SYNCS syncs in all, one at a time. Prints the syncs' p50,
# p90 and mean wall time, how many ran upkeep and how long those took, and
# the core-seconds (user + system) all the syncs spent.
#
#   benches/upkeep_cadence.sh STORE_TO_COPY [AFTER=12] [SYNCS=80] [HOSTS=20] [POND=target's debug pond]
set -eu
src=${1:?usage: upkeep_cadence.sh STORE_TO_COPY [AFTER] [SYNCS] [HOSTS] [POND]}
after=${2:-12}
syncs=${3:-80}
hosts=${4:-20}
pond=${5:-${CARGO_TARGET_DIR:-target}/debug/pond}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src" "$work/store"
POND_STORE="$work/store" POND_HOST=cadence-upkeep POND_EMBED_MODEL=off \
    "$pond" maintain --retain 30s --json >/dev/null

line() { # role n host session
    if [ "$1" = user ]; then
        message="{\"role\":\"user\",\"content\":\"question $2\"}"
    else
        message="{\"role\":\"assistant\",\"id\":\"msg_$3_$2\",\"model\":\"claude-sonnet-4\",\"content\":[{\"type\":\"text\",\"text\":\"answer $2\"}],\"usage\":{\"input_tokens\":10,\"output_tokens\":5}}"
    fi
    kind=1
    [ "$1" = user ] || kind=2
    printf '{"type":"%s","uuid":"%s","parentUuid":null,"sessionId":"%s","timestamp":"2026-01-01T01:00:00.000Z","cwd":"/bench","message":%s}\n' \
        "$1" "$(printf '%08d-%04d-0000-0000-%012d' "$3" "$kind" "$2")" "$4" "$message"
}

i=0
while [ "$i" -lt "$syncs" ]; do
    h=$((i % hosts))
    home="$work/host-$h"
    session=$(printf '00000000-0000-0000-%04d-000000000007' "$h")
    dir="$home/.claude/projects/-bench-project"
    mkdir -p "$dir"
    { line user "$i" "$h" "$session"; line assistant "$i" "$h" "$session"; } >>"$dir/$session.jsonl"
    start=$(date +%s%N)
    HOME="$home" XDG_STATE_HOME="$home/state" XDG_DATA_HOME="$home/data" \
        POND_STORE="$work/store" POND_HOST="cadence-host-$h" POND_EMBED_MODEL=off \
        CLAUDE_CONFIG_DIR="$home/.claude" POND_UPKEEP_AFTER_COMMITS="$after" \
        POND_UPKEEP_RETAIN=30s \
        /usr/bin/time -f '%U %S' -o "$work/cpu" \
        "$pond" sync claude-code --upkeep --json >"$work/out" 2>/dev/null
    end=$(date +%s%N)
    upkeep=$(grep -o '"upkeep": *"done in [0-9.]*' "$work/out" | grep -o '[0-9.]*$' || true)
    echo "$(((end - start) / 1000000)) $(cat "$work/cpu") ${upkeep:--}" >>"$work/runs"
    i=$((i + 1))
done
sort -n "$work/runs" | awk -v after="$after" '
    { ms[NR] = $1; sum += $1; cpu += $2 + $3; if ($4 != "-") { up++; upsecs = upsecs " " $4 } }
    END {
        printf "upkeep after %d commits, %d syncs: p50 %d ms, p90 %d ms, mean %d ms; %d ran upkeep (s:%s); %.1f core-s\n",
            after, NR, ms[int(NR / 2) + 1], ms[int(NR * 0.9)], sum / NR, up, upsecs, cpu
    }'
