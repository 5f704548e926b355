#!/usr/bin/env bash
# Starts (and stops) the real servers the tests talk to, on loopback:
#   moto      S3 with conditional put (If-None-Match), the shared-archive case
#   Azurite   Azure Blob, for az:// stores
#   s3rver    an S3 emulator WITHOUT conditional put, which pond must refuse
#   moto-iam  a second moto that enforces signatures and IAM policies: a full,
#             a read-only and a write-only identity on bucket pond-iam
# Tools are installed once under $POND_TEST_TOOLS (outside the clone, reused).
#
#   scripts/test-services.sh start        # prints the env file to source
#   scripts/test-services.sh stop RUNDIR  # RUNDIR: the env file's directory
#   scripts/test-services.sh tools        # only install the tools (benches)
# Each start gets its own run directory, so concurrent test runs never stop
# each other's servers.
set -euo pipefail

TOOLS="${POND_TEST_TOOLS:-/var/tmp/pond-test-tools}"
CCUSAGE_VERSION=18.0.11
PLAYWRIGHT_VERSION=1.65.2
AXE_VERSION=4.14.1

install_tools() {
    for tool in python3 npm; do
        command -v "$tool" >/dev/null || { echo "$tool is needed for the test servers (apt-get install python3-venv npm)" >&2; exit 1; }
    done
    mkdir -p "$TOOLS"
    if [ ! -x "$TOOLS/venv/bin/moto_server" ] || ! "$TOOLS/venv/bin/python" -c 'import azure.storage.blob' 2>/dev/null; then
        echo "installing moto[server] and azure-storage-blob into $TOOLS/venv" >&2
        python3 -m venv "$TOOLS/venv"
        "$TOOLS/venv/bin/pip" install -q 'moto[server]' azure-storage-blob
    fi
    # The official MCP client SDK and schemathesis drive `pond mcp` and
    # `pond serve` in the tests; a venv of their own keeps their pins apart
    # from moto's.
    if ! "$TOOLS/venv-serve/bin/python" -c 'import mcp' 2>/dev/null || [ ! -x "$TOOLS/venv-serve/bin/schemathesis" ]; then
        echo "installing mcp and schemathesis into $TOOLS/venv-serve" >&2
        python3 -m venv "$TOOLS/venv-serve"
        "$TOOLS/venv-serve/bin/pip" install -q 'mcp==2.3.0' 'schemathesis==4.32.5'
    fi
    if [ ! -x "$TOOLS/node_modules/.bin/azurite-blob" ] || [ ! -x "$TOOLS/node_modules/.bin/s3rver" ]; then
        echo "installing azurite and s3rver into $TOOLS/node_modules" >&2
        (cd "$TOOLS" && npm install --silent --no-fund --no-audit azurite@3 s3rver@3)
    fi
    # The pages are tested in Debian's Chromium (Playwright's own browser
    # download cannot be reached here), driven by Playwright for Python;
    # axe-core checks their accessibility.
    if ! "$TOOLS/venv-web/bin/python" -c 'import playwright' 2>/dev/null; then
        echo "installing playwright into $TOOLS/venv-web" >&2
        python3 -m venv "$TOOLS/venv-web"
        "$TOOLS/venv-web/bin/pip" install -q "playwright==$PLAYWRIGHT_VERSION"
    fi
    if [ "$(node -p 'require(process.argv[1]).version' "$TOOLS/node_modules/axe-core/package.json" 2>/dev/null)" != "$AXE_VERSION" ]; then
        echo "installing axe-core@$AXE_VERSION into $TOOLS/node_modules" >&2
        (cd "$TOOLS" && npm install --silent --no-fund --no-audit "axe-core@$AXE_VERSION")
    fi
    # The peer `pond usage` is checked against (rule 47): this exact release,
    # whose offline price table the comparison was worked out with.
    if [ "$(node -p 'require(process.argv[1]).version' "$TOOLS/node_modules/ccusage/package.json" 2>/dev/null)" != "$CCUSAGE_VERSION" ]; then
        echo "installing ccusage@$CCUSAGE_VERSION into $TOOLS/node_modules" >&2
        (cd "$TOOLS" && npm install --silent --no-fund --no-audit "ccusage@$CCUSAGE_VERSION")
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # port name
    for _ in $(seq 1 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.2
    done
    echo "$2 did not start on port $1 (log: $RUN/$2.log)" >&2
    exit 1
}

start() {
    install_tools
    RUN=$(mktemp -d "${TMPDIR:-/tmp}/pond-services.XXXXXX")
    # A failed start must not leave servers behind.
    trap 'stop "$RUN" 2>/dev/null' EXIT
    mkdir -p "$RUN/azurite" "$RUN/s3rver"
    local moto az nocond iam
    moto=$(free_port); az=$(free_port); nocond=$(free_port); iam=$(free_port)

    "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$moto" >"$RUN/moto.log" 2>&1 &
    echo $! >"$RUN/pids"
    "$TOOLS/venv/bin/moto_server" -H 127.0.0.1 -p "$iam" >"$RUN/moto-iam.log" 2>&1 &
    echo $! >>"$RUN/pids"
    "$TOOLS/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az" \
        --location "$RUN/azurite" --loose --skipApiVersionCheck --silent >"$RUN/azurite.log" 2>&1 &
    echo $! >>"$RUN/pids"
    "$TOOLS/node_modules/.bin/s3rver" -d "$RUN/s3rver" -a 127.0.0.1 -p "$nocond" --silent \
        --configure-bucket pond-nocond >"$RUN/s3rver.log" 2>&1 &
    echo $! >>"$RUN/pids"
    wait_for "$moto" moto; wait_for "$az" azurite; wait_for "$nocond" s3rver; wait_for "$iam" moto-iam

    # The second moto checks signatures and IAM policies (everything the
    # first one waives): three identities on one bucket, then enforcement on.
    # moto names listing `s3:ListObjectsV2`, so the policies grant by wildcard.
    "$TOOLS/venv/bin/python" - "$iam" >"$RUN/iam-keys" <<'PY'
import json, sys, urllib.request
import boto3
url = f"http://127.0.0.1:{sys.argv[1]}"
setup = dict(endpoint_url=url, region_name="us-east-1",
             aws_access_key_id="setup", aws_secret_access_key="setup")
iam, s3 = boto3.client("iam", **setup), boto3.client("s3", **setup)
s3.create_bucket(Bucket="pond-iam")
bucket = ["arn:aws:s3:::pond-iam", "arn:aws:s3:::pond-iam/*"]
for name, actions in [("full", ["s3:*"]), ("reader", ["s3:Get*", "s3:List*"]), ("writer", ["s3:Put*"])]:
    iam.create_user(UserName=name)
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": actions, "Resource": bucket}]}
    iam.put_user_policy(UserName=name, PolicyName="pond", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    print(f"POND_TEST_IAM_{name.upper()}={key['AccessKeyId']}:{key['SecretAccessKey']}")
enforce = urllib.request.Request(f"{url}/moto-api/reset-auth", data=b"0", method="POST",
                                 headers={"Content-Type": "text/plain"})
urllib.request.urlopen(enforce).read()
PY

    # Azurite's well-known development account.
    local account=devstoreaccount1
    local key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
    "$TOOLS/venv/bin/python" - "$az" "$account" "$key" <<'PY'
import sys
from azure.storage.blob import BlobServiceClient
port, account, key = sys.argv[1:]
url = f"http://127.0.0.1:{port}/{account}"
svc = BlobServiceClient(account_url=url, credential={"account_name": account, "account_key": key})
for name in ["pond-race", "pond-faults", "pond-check"]:
    svc.create_container(name)
PY
    cat >"$RUN/env" <<ENV
POND_TEST_S3_ENDPOINT=http://127.0.0.1:$moto
POND_TEST_NOCOND_S3_ENDPOINT=http://127.0.0.1:$nocond
POND_TEST_IAM_S3_ENDPOINT=http://127.0.0.1:$iam
$(cat "$RUN/iam-keys")
POND_TEST_AZURITE_ENDPOINT=http://127.0.0.1:$az/$account
POND_TEST_AZURITE_ACCOUNT=$account
POND_TEST_AZURITE_KEY=$key
POND_TEST_PYTHON=$TOOLS/venv-serve/bin/python
POND_TEST_SCHEMATHESIS=$TOOLS/venv-serve/bin/schemathesis
POND_TEST_CCUSAGE=$TOOLS/node_modules/ccusage/dist/index.js
ENV
    trap - EXIT
    echo "$RUN/env"
}

stop() {
    RUN="$1"
    if [ -f "$RUN/pids" ]; then
        while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$RUN/pids"
        # A server still flushing its files would race the removal below.
        for _ in $(seq 50); do
            alive=0
            while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done <"$RUN/pids"
            [ "$alive" = 0 ] && break
            sleep 0.1
        done
        rm -rf "$RUN"
        echo "stopped test services" >&2
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:?usage: $0 stop RUNDIR}" ;;
    tools) install_tools ;;
    *) echo "usage: $0 start | stop RUNDIR | tools" >&2; exit 2 ;;
esac
