#!/usr/bin/env bash
# Provides a real Gitea (the git host of the pull-request tests, test/helpers/gitea-server.ts),
# built from the Go module proxy at a pinned version into a cache keyed by it. Idempotent; prints
# the directory on its last line.
#
#   - v1.26.0: v1.27.x declares its module path as gitea.dev, which the proxy refuses.
#   - `go install mod@v` refuses a main module with `replace` lines: a wrapper module requires
#     Gitea and copies them.
#   - SQLite needs cgo (mattn/go-sqlite3) and the tags `sqlite sqlite_unlock_notify`.
#   - Without `bindata` the binary reads its templates and locales from disk: the module's
#     options/, templates/ and public/ are copied next to it (STATIC_ROOT_PATH points there).
set -euo pipefail

GITEA_VERSION=${GITEA_VERSION:-1.26.0}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-rollback/envtest}
OUT="$CACHE_ROOT/gitea-$GITEA_VERSION"

have_all() { [ -x "$OUT/gitea" ] && [ -d "$OUT/static/options" ] && [ -d "$OUT/static/templates" ]; }

if have_all; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "provide-gitea: go is needed to build Gitea" >&2; exit 1; }
command -v cc >/dev/null || { echo "provide-gitea: a C compiler is needed (Gitea's SQLite driver uses cgo)" >&2; exit 1; }
mkdir -p "$OUT"
exec 9>"$OUT.lock"
flock -n 9 || { echo "provide-gitea: another process is building $OUT; waiting for it" >&2; flock 9; }
if have_all; then echo "$OUT"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { echo "provide-gitea: $(date +%H:%M:%S) $*" >&2; }
download_field() { go mod download -json "code.gitea.io/gitea@v$GITEA_VERSION" | sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\$/\\1/p"; }

log "building Gitea v$GITEA_VERSION into $OUT (cold: a few minutes on 2 cores; cached afterwards)"
upstream=$(download_field GoMod)
source_dir=$(download_field Dir)
mkdir -p "$work/gitea"
{
  echo "module envtest/gitea"
  grep -E '^go [0-9.]+$' "$upstream"
  grep -E '^godebug ' "$upstream" || true
  echo "require code.gitea.io/gitea v$GITEA_VERSION"
  grep -E '^replace [^(]' "$upstream" | sed 's|[[:space:]]*//.*$||'
} > "$work/gitea/go.mod"
(cd "$work/gitea" && go get "code.gitea.io/gitea@v$GITEA_VERSION" \
  && CGO_ENABLED=1 go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
    -ldflags="-s -X code.gitea.io/gitea/modules/setting.AppVer=$GITEA_VERSION" \
    -o "$OUT/.gitea.partial" code.gitea.io/gitea)

rm -rf "$OUT/static.partial" && mkdir -p "$OUT/static.partial"
cp -r "$source_dir/options" "$source_dir/templates" "$source_dir/public" "$OUT/static.partial/"
chmod -R u+w "$OUT/static.partial"
rm -rf "$OUT/static" && mv "$OUT/static.partial" "$OUT/static"
# Built under a temporary name and renamed: an interrupted build never leaves a truncated binary.
mv -f "$OUT/.gitea.partial" "$OUT/gitea"
have_all || { echo "provide-gitea: build finished without the binary and its files in $OUT" >&2; exit 1; }
log "done"
echo "$OUT"
