#!/usr/bin/env bash
# Builds tests/fixtures/stores/format1.tar.gz: a store, its host's sync state
# and the source files, as pond before client-scoped ids (format 1, commit
# 1320fab) wrote them. A Claude Code session and a Codex rollout share the id
# 1af7fc5e-8455-4414-9ccd-011d40f70b2a, which format 1 merged into one
# session; a subagent session names its parent. The upgrade test unpacks it
# at the same path, so the files, their roots and the cursors match.
#
# Usage: scripts/make-format1-store.sh /path/to/pond-format1-binary
set -euo pipefail
bin=${1:?path to a pond binary of format 1}
here=$(cd "$(dirname "$0")/.." && pwd)
base=/tmp/pond-format1
rm -rf "$base"
mkdir -p "$base/src/claude/sample-project" "$base/src/codex/2025/10/30" "$base/home"
cp "$here/tests/fixtures/claude-code/sample-project/1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl" "$base/src/claude/sample-project/"
cp -r "$here/tests/fixtures/claude-code/subagent" "$base/src/claude/"
sed "s/019fc8be-3658-7ca3-9e29-000000000000/1af7fc5e-8455-4414-9ccd-011d40f70b2a/g" "$here/tests/fixtures/codex/agent-sessions-small.jsonl" \
  > "$base/src/codex/2025/10/30/rollout-2025-10-30T11-00-00-1af7fc5e-8455-4414-9ccd-011d40f70b2a.jsonl"
export HOME=$base/home XDG_STATE_HOME=$base/state XDG_DATA_HOME=$base/data \
  POND_STORE=$base/store POND_HOST=test-host POND_EMBED_MODEL=off
unset CLAUDE_CONFIG_DIR CODEX_HOME POND_CONFIG POND_LOG
"$bin" sync claude-code --path "$base/src/claude" --json >/dev/null
"$bin" sync codex --path "$base/src/codex" --json >/dev/null
tar -C /tmp -czf "$here/tests/fixtures/stores/format1.tar.gz" pond-format1
echo "wrote tests/fixtures/stores/format1.tar.gz ($(du -h "$here/tests/fixtures/stores/format1.tar.gz" | cut -f1))"
