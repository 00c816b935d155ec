#!/usr/bin/env bash
# Provides Flux's own CRD manifests for the test API server, taken from Flux's Go modules through
# the Go module proxy (the same files Flux installs). Idempotent; prints the directory holding the
# YAML files on its last line.
set -euo pipefail

SOURCE_CONTROLLER_VERSION=${SOURCE_CONTROLLER_VERSION:-1.9.6}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-rollback/envtest}
OUT="$CACHE_ROOT/flux-crds-source-$SOURCE_CONTROLLER_VERSION"

if [ -s "$OUT/source.toolkit.fluxcd.io_gitrepositories.yaml" ]; then
  echo "$OUT"; exit 0
fi
command -v go >/dev/null || { echo "provide-flux-crds: go is needed to fetch Flux's modules" >&2; exit 1; }
mkdir -p "$OUT.partial"
# GOTOOLCHAIN=local: never switch Go versions behind the caller's back; pick module versions that
# this Go accepts instead.
dir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/source-controller@v$SOURCE_CONTROLLER_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/config/crd/bases" ] || { echo "provide-flux-crds: no config/crd/bases in source-controller v$SOURCE_CONTROLLER_VERSION" >&2; exit 1; }
cp "$dir"/config/crd/bases/source.toolkit.fluxcd.io_gitrepositories.yaml "$OUT.partial/"
chmod -R u+w "$OUT.partial"
rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
echo "$OUT"
