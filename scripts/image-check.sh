#!/bin/sh
# Builds the release image from dist/ with buildah (Debian's package) and
# runs `pond --version`, a sync of the shipped fixtures and a hybrid search
# in it. No registry is needed: the base image is made here from Debian's
# packages with debootstrap, and passed as the DEBIAN build argument.
#
#   make dist && scripts/image-check.sh        (make image-check)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
ls dist/pond-*-x86_64-unknown-linux-gnu.tar.gz >/dev/null 2>&1 || { echo "image-check: no archive in dist/: run make dist" >&2; exit 1; }
for tool in buildah debootstrap; do
    command -v "$tool" >/dev/null || apt-get install -y --no-install-recommends buildah debootstrap
done
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot
base=localhost/debian:bookworm-slim
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
    rootfs=$(mktemp -d /var/tmp/pond-rootfs.XXXXXX)
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
    ctr=$(buildah from scratch)
    cp -a "$rootfs"/. "$(buildah mount "$ctr")"/
    buildah umount "$ctr" >/dev/null
    buildah commit -q "$ctr" "$base" >/dev/null
    buildah rm "$ctr" >/dev/null
    rm -rf "$rootfs"
fi
buildah bud -q --build-arg DEBIAN="$base" -f deploy/docker/Dockerfile --target release -t localhost/pond:check . >/dev/null
ctr=$(buildah from localhost/pond:check)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
run() { buildah run --env HOME=/home/pond "$ctr" -- "$@"; }
run pond --version
buildah copy -q --chown pond:pond "$ctr" tests/fixtures/claude-code /home/pond/fixtures >/dev/null
run pond sync claude-code --path /home/pond/fixtures --json | grep -q '"outcome": "ok"'

mode=$(run pond search --json --limit 1 "how did we handle the error" | sed -n 's/^  "mode": "\(.*\)",$/\1/p')
[ "$mode" = hybrid ] || { echo "image-check: search in the image ran in '$mode' mode, not hybrid" >&2; exit 1; }
echo "image-check: the release image runs pond, syncs and searches (hybrid)"
