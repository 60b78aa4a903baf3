#!/usr/bin/env bash
# Builds a real Fluent Bit (with filter_wasm, in_tail and the outputs the tests use) from an upstream
# source tarball, for the fluentbit test group and `npm run bench:fluentbit`.
#
#   scripts/build-fluent-bit.sh <fluent-bit-X.Y.Z-src.tar.gz>
#
# The result is cached outside the clone, keyed by the tarball's sha256, so a second run on the same
# machine (another CI run, another clone) reuses it:
#   ${FLUENT_BIT_CACHE:-/var/cache/cri-logrotate/fluent-bit}/<sha256>/bin/fluent-bit
# The last line printed is the binary's path (tests find it through FLUENT_BIT_BIN).
# Needs: cmake flex bison libyaml-dev libssl-dev pkg-config libsqlite3-dev, a C compiler, make.
set -euo pipefail

tarball="${1:?usage: $0 <fluent-bit-src.tar.gz>}"
[ -f "$tarball" ] || { echo "no such file: $tarball" >&2; exit 2; }
sha=$(sha256sum "$tarball" | cut -d' ' -f1)
cache="${FLUENT_BIT_CACHE:-/var/cache/cri-logrotate/fluent-bit}/$sha"
bin="$cache/bin/fluent-bit"

if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then
  echo "fluent-bit cached for $sha" >&2
  echo "$bin"
  exit 0
fi

for tool in cmake make cc flex bison pkg-config; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y cmake flex bison libyaml-dev libssl-dev pkg-config libsqlite3-dev build-essential" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fluent-bit-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -f "$src/CMakeLists.txt" ] || { echo "$tarball does not hold a Fluent Bit source tree" >&2; exit 2; }

# The cmake line of the upstream minimal build plus what the tests need; FLB_AWS/FLB_SIGNV4 must stay on
# (5.1.1's http client does not compile without them). The tarball leaves out the bundled sqlite: use
# the system's.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DFLB_RELEASE=On -DFLB_DEBUG=Off \
  -DFLB_MINIMAL=On -DFLB_PREFER_SYSTEM_LIB_SQLITE=On -DFLB_SQLDB=On -DFLB_WASM=On -DFLB_FILTER_WASM=On \
  -DFLB_IN_TAIL=On -DFLB_IN_DUMMY=On -DFLB_FILTER_MODIFY=On \
  -DFLB_OUT_STDOUT=On -DFLB_OUT_FILE=On -DFLB_OUT_HTTP=On -DFLB_OUT_NULL=On \
  -DFLB_LUAJIT=Off -DFLB_KAFKA=Off -DFLB_EXAMPLES=Off -DFLB_SHARED_LIB=Off \
  -DFLB_TESTS_RUNTIME=Off -DFLB_TESTS_INTERNAL=Off -DFLB_AWS=On -DFLB_SIGNV4=On \
  -DFLB_ZIG=Off -DFLB_PROXY_GO=Off -DFLB_CUSTOM_CALYPTIA=Off -DFLB_BACKTRACE=Off \
  -DFLB_STREAM_PROCESSOR=Off -DFLB_UNICODE_ENCODER=Off -DFLB_RIPSER=Off -DFLB_ARROW=Off \
  -DFLB_AVRO_ENCODER=Off -DFLB_WAMRC=Off >"$work/cmake.log" 2>&1 || { tail -n 40 "$work/cmake.log" >&2; exit 1; }
make -C "$work/build" -j"$(nproc)" fluent-bit-bin >"$work/make.log" 2>&1 || { tail -n 60 "$work/make.log" >&2; exit 1; }

# Install atomically: a half-copied binary is never taken for a cached one.
mkdir -p "$(dirname "$cache")"
staging="$cache.tmp.$$"
rm -rf "$staging"
mkdir -p "$staging/bin"
cp "$work/build/bin/fluent-bit" "$staging/bin/fluent-bit"
"$staging/bin/fluent-bit" --version >/dev/null
rm -rf "$cache"
mv "$staging" "$cache"
echo "$bin"
