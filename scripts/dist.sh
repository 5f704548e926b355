#!/bin/sh
# Packs a pond release archive for one target:
#
#   dist/pond-<version>-<target>.tar.gz   bin/pond, the distilled embedding
#                                         model, man page, completions,
#                                         LICENSE, README.md
#   dist/pond-<version>-<target>-transformer.tar.gz
#                                         the contextual model (int8
#                                         all-MiniLM-L6-v2 and its tokenizer)
#                                         and ONNX Runtime, for
#                                         POND_INSTALL_TRANSFORMER=1; packed
#                                         for the build machine's own Linux
#                                         target, from `make models`' sources
#   dist/SHA256SUMS                       every archive of that version
#   dist/VERSION, dist/install.sh         what the installer fetches
#
# scripts/dist.sh [--binary PATH] [--target TRIPLE] [--out DIR] [--fast]
#
# Without --binary it builds pond with the `dist` profile (`make dist`);
# with one it packs that binary as it is (the installer's test packs the
# debug build this way, with --fast compression, so `make test` never
# compiles a release).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
binary=""
target=""
out="$here/dist"
level=-9
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --target) target="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --fast) level=-1; shift ;;
        *) echo "dist.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n 1)
[ -n "$target" ] || target=$(rustc -vV | sed -n 's/^host: //p')
model="${XDG_CACHE_HOME:-$HOME/.cache}/pond/models/pond-static-minilm-256"
for f in config.json model.safetensors projection.safetensors tokenizer.json; do
    [ -s "$model/$f" ] || { echo "dist.sh: the model is not distilled ($model/$f missing): run make models" >&2; exit 1; }
done

if [ -z "$binary" ]; then
    cargo build --locked --profile dist --bin pond --target "$target"
    binary="${CARGO_TARGET_DIR:-$here/target}/$target/dist/pond"
fi
[ -x "$binary" ] || { echo "dist.sh: no binary at $binary" >&2; exit 1; }

name="pond-$version-$target"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/share/pond/models" "$root/share/man/man1" "$root/share/completions"
cp "$binary" "$root/bin/pond"
chmod 755 "$root/bin/pond"
cp -R "$model" "$root/share/pond/models/"
# The static model names the transformer it was distilled from (the one
# whose axes it carries); unpacked under each user's home, that is the
# transformer archive's sources directory beside it.
sed 's|"teacher": *"[^"]*"|"teacher": "../sources/minilm"|' "$model/config.json" \
    >"$root/share/pond/models/$(basename "$model")/config.json"
"$binary" man >"$root/share/man/man1/pond.1"
"$binary" completions bash >"$root/share/completions/pond.bash"
"$binary" completions zsh >"$root/share/completions/_pond"
"$binary" completions fish >"$root/share/completions/pond.fish"
cp "$here/LICENSE" "$here/README.md" "$root/"

mkdir -p "$out"
# Same bytes for the same inputs: sorted names, no owner, the commit's time.
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -cf - "$name" | gzip -n "$level" >"$out/$name.tar.gz"
# The contextual model: only for the machine's own target, whose ONNX
# Runtime `make models` fetched.
sources="${XDG_CACHE_HOME:-$HOME/.cache}/pond/models/sources"
if [ "$target" = "$(rustc -vV | sed -n 's/^host: //p')" ] && [ -s "$sources/minilm/model.onnx" ] &&
    [ -s "$sources/onnxruntime/libonnxruntime.so" ]; then
    extra="$name-transformer"
    mkdir -p "$stage/$extra/share/pond/models/sources/minilm" "$stage/$extra/share/pond/models/sources/onnxruntime"
    # model.safetensors and vocab.txt: a one-shot search embeds its query
    # from the float weights without starting ONNX Runtime (spec rule 59).
    for f in model.onnx model.safetensors tokenizer.json vocab.txt config.json tokenizer_config.json special_tokens_map.json; do
        cp "$sources/minilm/$f" "$stage/$extra/share/pond/models/sources/minilm/"
    done
    lib=$(readlink "$sources/onnxruntime/libonnxruntime.so" || echo libonnxruntime.so)
    cp "$sources/onnxruntime/$lib" "$stage/$extra/share/pond/models/sources/onnxruntime/"
    [ "$lib" = libonnxruntime.so ] || ln -s "$lib" "$stage/$extra/share/pond/models/sources/onnxruntime/libonnxruntime.so"
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
        -cf - "$extra" | gzip -n "$level" >"$out/$extra.tar.gz"
    echo "dist: $out/$extra.tar.gz ($(wc -c <"$out/$extra.tar.gz") bytes)"
else
    echo "dist: no transformer archive for $target (run make models on a $target machine)" >&2
fi
(
    cd "$out"
    ls pond-"$version"-*.tar.gz | sort | while read -r f; do sha256sum "$f"; done >SHA256SUMS
)
echo "$version" >"$out/VERSION"
cp "$here/scripts/install.sh" "$out/install.sh"
size=$(wc -c <"$out/$name.tar.gz")
bin_size=$(wc -c <"$binary")
echo "dist: $out/$name.tar.gz ($size bytes; binary $bin_size bytes)"
