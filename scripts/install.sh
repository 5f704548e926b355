#!/bin/sh
# Installs pond from its release archives:
#
#   curl -fsSL https://github.com/your-org/pond/releases/latest/download/install.sh | sh
#
# Picks the archive for this machine (Linux x86_64/aarch64, macOS
# arm64/x86_64), verifies its SHA-256 against the release's SHA256SUMS before
# unpacking anything, then puts the binary in ~/.local/bin and the embedding
# model in pond's cache. Running it again upgrades in place. On any failure
# nothing is installed and the reason is printed.
#
#   POND_VERSION        a version to install (default: the latest release)
#   POND_INSTALL_DIR    where the binary goes (default: ~/.local/bin)
#   POND_INSTALL_SHA256 the archive's SHA-256, pinned (CI): checked as well as
#                       the release's SHA256SUMS
#   POND_INSTALL_TRANSFORMER=1
#                       also install the contextual search model (int8
#                       all-MiniLM-L6-v2 with ONNX Runtime, about 35 MB more),
#                       then choose it with POND_EMBED_MODEL=transformer
#   POND_INSTALL_BASE   where releases are (default: the project's GitHub
#                       releases; https://, http:// or file://), laid out as
#                       <base>/download/v<version>/<archive> and
#                       <base>/latest/download/VERSION
#
# Needs: curl or wget (or only file:// URLs), tar, gzip, and sha256sum,
# shasum or openssl. POSIX sh; no Rust, no Python.

set -eu

base="${POND_INSTALL_BASE:-https://github.com/your-org/pond/releases}"
base="${base%/}"
version="${POND_VERSION:-${1:-latest}}"
version="${version#v}"
install_dir="${POND_INSTALL_DIR:-${HOME:?HOME is not set}/.local/bin}"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pond"
data_dir="${XDG_DATA_HOME:-$HOME/.local/share}"

say() { printf 'pond install: %s\n' "$*" >&2; }
fail() {
    printf 'pond install: error: %s\n' "$*" >&2
    printf 'pond install: nothing was installed.\n' >&2
    exit 1
}

target() {
    os=$(uname -s)
    arch=$(uname -m)
    case "$arch" in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
    esac
    case "$os/$arch" in
        Linux/x86_64) echo x86_64-unknown-linux-gnu ;;
        Linux/aarch64) echo aarch64-unknown-linux-gnu ;;
        Darwin/aarch64) echo aarch64-apple-darwin ;;
        Darwin/x86_64) echo x86_64-apple-darwin ;;
        *) fail "pond has no build for $os $arch (there are Linux x86_64/aarch64 and macOS arm64/x86_64); build it from source: see docs/development.md" ;;
    esac
}

# fetch URL FILE
fetch() {
    case "$1" in
        file://*)
            cp "${1#file://}" "$2" 2>/dev/null || return 1
            ;;
        *)
            if command -v curl >/dev/null 2>&1; then
                curl --proto '=https,http' -fsSL --retry 2 -o "$2" "$1" || return 1
            elif command -v wget >/dev/null 2>&1; then
                wget -q -O "$2" "$1" || return 1
            else
                fail "neither curl nor wget is installed; install one, or set POND_INSTALL_BASE to a file:// directory"
            fi
            ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 "$1" | sed 's/.*= *//'
    else
        fail "no SHA-256 tool (sha256sum, shasum or openssl) to verify the download with"
    fi
}

for tool in tar gzip uname mkdir cp mv rm; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

target=$(target)
tmp=$(mktemp -d 2>/dev/null || mktemp -d -t pond-install)
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT TERM

if [ "$version" = latest ]; then
    fetch "$base/latest/download/VERSION" "$tmp/VERSION" ||
        fail "could not find the latest version at $base/latest/download/VERSION (is the network up? set POND_VERSION to pin one)"
    version=$(tr -d ' \r\n' <"$tmp/VERSION")
fi
case "$version" in
    '' | *[!0-9A-Za-z.+-]*) fail "'$version' is not a version" ;;
esac

archive="pond-$version-$target.tar.gz"
from="$base/download/v$version"
say "downloading pond $version for $target from $from"
fetch "$from/SHA256SUMS" "$tmp/SHA256SUMS" ||
    fail "could not download $from/SHA256SUMS (no release $version? see $base)"
fetch "$from/$archive" "$tmp/$archive" ||
    fail "could not download $from/$archive (release $version has no build for $target?)"

# verify FILE: its SHA-256 is the one SHA256SUMS lists for it.
verify() {
    expected=$(awk -v name="$1" '$2 == name || $2 == "*" name { print $1 }' "$tmp/SHA256SUMS")
    [ -n "$expected" ] || fail "SHA256SUMS of release $version lists no $1"
    actual=$(sha256_of "$tmp/$1")
    [ "$actual" = "$expected" ] ||
        fail "checksum mismatch for $1: expected $expected, got $actual (a damaged or tampered download)"
}
verify "$archive"
if [ -n "${POND_INSTALL_SHA256:-}" ] && [ "$POND_INSTALL_SHA256" != "$actual" ]; then
    fail "checksum mismatch for $archive: POND_INSTALL_SHA256 pins $POND_INSTALL_SHA256, the download is $actual"
fi
say "verified SHA-256 $actual"

mkdir "$tmp/unpacked"
tar -xzf "$tmp/$archive" -C "$tmp/unpacked" || fail "could not unpack $archive"
root="$tmp/unpacked/pond-$version-$target"
[ -x "$root/bin/pond" ] || fail "$archive holds no bin/pond"
new_version=$("$root/bin/pond" --version 2>/dev/null) ||
    fail "the downloaded pond does not run on this machine ($(uname -sr))"

transformer=""
if [ "${POND_INSTALL_TRANSFORMER:-}" = 1 ]; then
    transformer="pond-$version-$target-transformer.tar.gz"
    fetch "$from/$transformer" "$tmp/$transformer" ||
        fail "could not download $from/$transformer (release $version has no contextual model for $target?)"
    verify "$transformer"
    say "verified SHA-256 $actual"
    tar -xzf "$tmp/$transformer" -C "$tmp/unpacked" || fail "could not unpack $transformer"
    [ -s "$tmp/unpacked/pond-$version-$target-transformer/share/pond/models/sources/minilm/model.onnx" ] ||
        fail "$transformer holds no model"
fi

# install_model DIR DEST: replaces DEST by a copy of DIR, by rename.
install_model() {
    staged="${2%/*}/.${2##*/}.new"
    mkdir -p "${2%/*}"
    rm -rf "$staged"
    cp -R "$1" "$staged"
    rm -rf "$2"
    mv "$staged" "$2"
    say "model $(basename "$2") -> $2"
}

# The models first, then the binary: a pond found on PATH always has them.
if [ -n "$transformer" ]; then
    for part in "$tmp/unpacked/pond-$version-$target-transformer/share/pond/models/sources"/*; do
        install_model "$part" "$cache_dir/models/sources/$(basename "$part")"
    done
fi
for model in "$root"/share/pond/models/*; do
    [ -d "$model" ] || continue
    install_model "$model" "$cache_dir/models/$(basename "$model")"
done

mkdir -p "$install_dir" || fail "cannot create $install_dir"
previous=""
if [ -x "$install_dir/pond" ]; then
    previous=$("$install_dir/pond" --version 2>/dev/null || echo "an unknown pond")
fi
# A rename is atomic: a pond running from the old file keeps running.
cp "$root/bin/pond" "$install_dir/.pond.new.$$"
chmod 755 "$install_dir/.pond.new.$$"
mv -f "$install_dir/.pond.new.$$" "$install_dir/pond"

# The man page and completions, where shells and man look for a user's own.
if [ -f "$root/share/man/man1/pond.1" ]; then
    mkdir -p "$data_dir/man/man1" && cp "$root/share/man/man1/pond.1" "$data_dir/man/man1/pond.1"
fi
if [ -d "$root/share/completions" ]; then
    mkdir -p "$data_dir/bash-completion/completions" "$data_dir/zsh/site-functions" \
        "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions"
    cp "$root/share/completions/pond.bash" "$data_dir/bash-completion/completions/pond"
    cp "$root/share/completions/_pond" "$data_dir/zsh/site-functions/_pond"
    cp "$root/share/completions/pond.fish" "${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/pond.fish"
fi

if [ -n "$previous" ]; then
    say "upgraded $previous -> $new_version at $install_dir/pond"
else
    say "installed $new_version at $install_dir/pond"
fi
case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *)
        say "$install_dir is not on your PATH; add it with"
        say "  export PATH=\"$install_dir:\$PATH\"   (in ~/.profile, ~/.bashrc or ~/.zshrc)"
        ;;
esac
if [ -n "$transformer" ]; then
    say "the contextual search model is installed: export POND_EMBED_MODEL=transformer, then pond agent (or pond model reembed) gives your parts its vectors"
fi
say "next: pond sync, then pond search \"what you remember\""
