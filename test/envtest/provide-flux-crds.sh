#!/usr/bin/env bash
# Provides Flux's own CRD manifests for the test API server, taken from Flux's Go modules through
# the Go module proxy (the same files Flux installs). Idempotent; prints the directory holding the
# YAML files on its last line.
set -euo pipefail

SOURCE_CONTROLLER_VERSION=${SOURCE_CONTROLLER_VERSION:-1.9.6}
# kustomize-controller v1.10+ needs Go 1.27; v1.9.6 is the newest this Go accepts.
KUSTOMIZE_CONTROLLER_VERSION=${KUSTOMIZE_CONTROLLER_VERSION:-1.9.6}
# The proxy refuses image-automation-controller itself (403) but serves its api module; the
# ImageUpdateAutomation CRD is generated from those types with controller-gen, as Flux's Makefile does.
IMAGE_AUTOMATION_API_VERSION=${IMAGE_AUTOMATION_API_VERSION:-1.2.5}
CONTROLLER_TOOLS_VERSION=${CONTROLLER_TOOLS_VERSION:-0.23.0}
# Alert and Provider (notification.toolkit.fluxcd.io/v1beta3), for the webhook samples.
NOTIFICATION_CONTROLLER_VERSION=${NOTIFICATION_CONTROLLER_VERSION:-1.6.0}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-rollback/envtest}
OUT="$CACHE_ROOT/flux-crds-source-$SOURCE_CONTROLLER_VERSION"

have_all() {
  [ -s "$OUT/source.toolkit.fluxcd.io_gitrepositories.yaml" ] && [ -s "$OUT/source.toolkit.fluxcd.io_ocirepositories.yaml" ] \
    && [ -s "$OUT/kustomize.toolkit.fluxcd.io_kustomizations.yaml" ] && [ -s "$OUT/image.toolkit.fluxcd.io_imageupdateautomations.yaml" ] \
    && [ -s "$OUT/notification.toolkit.fluxcd.io_providers.yaml" ]
}
if have_all; then
  echo "$OUT"; exit 0
fi
command -v go >/dev/null || { echo "provide-flux-crds: go is needed to fetch Flux's modules" >&2; exit 1; }
# One generation at a time (parallel test runs, CI jobs sharing a cache): whoever waited finds
# the files the first one wrote, instead of both writing into one .partial directory.
mkdir -p "$CACHE_ROOT"
exec 9>"$OUT.lock"
flock -n 9 || { echo "provide-flux-crds: another process is generating $OUT; waiting for it" >&2; flock 9; }
if have_all; then
  echo "$OUT"; exit 0
fi
rm -rf "$OUT.partial"
mkdir -p "$OUT.partial"
# GOTOOLCHAIN=local: never switch Go versions behind the caller's back; pick module versions that
# this Go accepts instead.
dir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/source-controller@v$SOURCE_CONTROLLER_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/config/crd/bases" ] || { echo "provide-flux-crds: no config/crd/bases in source-controller v$SOURCE_CONTROLLER_VERSION" >&2; exit 1; }
# Every source kind: the real source- and kustomize-controller (cluster mode) watch them all.
cp "$dir"/config/crd/bases/source.toolkit.fluxcd.io_*.yaml "$OUT.partial/"
kdir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/kustomize-controller@v$KUSTOMIZE_CONTROLLER_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
cp "$kdir"/config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml "$OUT.partial/"
ndir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/notification-controller@v$NOTIFICATION_CONTROLLER_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
cp "$ndir"/config/crd/bases/notification.toolkit.fluxcd.io_alerts.yaml "$ndir"/config/crd/bases/notification.toolkit.fluxcd.io_providers.yaml "$OUT.partial/"
adir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/fluxcd/image-automation-controller/api@v$IMAGE_AUTOMATION_API_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
gen="$CACHE_ROOT/bin/controller-gen-$CONTROLLER_TOOLS_VERSION"
if [ ! -x "$gen" ]; then
  echo "provide-flux-crds: building controller-gen v$CONTROLLER_TOOLS_VERSION (once)" >&2
  mkdir -p "$CACHE_ROOT/bin"
  GOTOOLCHAIN=local GOBIN="$CACHE_ROOT/bin.partial" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@v$CONTROLLER_TOOLS_VERSION"
  mv "$CACHE_ROOT/bin.partial/controller-gen" "$gen" && rmdir "$CACHE_ROOT/bin.partial"
fi
(cd "$adir" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$gen" crd paths=./... output:crd:dir="$OUT.partial")
chmod -R u+w "$OUT.partial"
rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
echo "$OUT"
