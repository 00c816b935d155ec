#!/usr/bin/env bash
# Provides kube-apiserver, etcd and kubectl for the integration tests, like controller-runtime's
# envtest assets. Idempotent; prints the directory holding the three binaries on its last line.
#
#   1. KUBEBUILDER_ASSETS (or TEST_ASSET_KUBE_APISERVER + TEST_ASSET_ETCD [+ TEST_ASSET_KUBECTL])
#      pointing at existing binaries: use them.
#   2. Otherwise build them from the Go module proxy into a cache keyed by version:
#      kube-apiserver and kubectl from a wrapper module requiring k8s.io/kubernetes with every
#      staging module replaced by its matching v0.X release; etcd from go.etcd.io/etcd/server/v3.
#      The cold build takes many minutes on 2 cores; later runs reuse the cache.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.36.3}
ETCD_VERSION=${ETCD_VERSION:-3.6.8}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-rollback/envtest}
OUT="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

have_all() { [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ] && [ -x "$1/kubectl" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
if [ -n "${TEST_ASSET_KUBE_APISERVER:-}" ] && [ -n "${TEST_ASSET_ETCD:-}" ]; then
  mkdir -p "$OUT/from-env"
  ln -sf "$TEST_ASSET_KUBE_APISERVER" "$OUT/from-env/kube-apiserver"
  ln -sf "$TEST_ASSET_ETCD" "$OUT/from-env/etcd"
  ln -sf "${TEST_ASSET_KUBECTL:-$(command -v kubectl || echo /nonexistent)}" "$OUT/from-env/kubectl"
  echo "$OUT/from-env"; exit 0
fi
if have_all "$OUT"; then
  echo "$OUT"; exit 0
fi

command -v go >/dev/null || { echo "provide-binaries: go is needed to build kube-apiserver/etcd/kubectl" >&2; exit 1; }
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

build_kubernetes() {
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  local upstream
  upstream=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
  local minor=${K8S_VERSION#1.}
  {
    echo "module envtest/kubernetes"
    grep -E '^go [0-9.]+$' "$upstream"
    grep -E '^godebug ' "$upstream" || true
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo "replace ("
    # Every staging module (=> ./staging/...) becomes its published v0.X release.
    grep -E '=> \./staging/' "$upstream" | awk -v v="v0.$minor" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$mod/go.mod"
  (cd "$mod" && go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" \
    && go build -trimpath -ldflags=-s -o "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver \
    && go build -trimpath -ldflags=-s -o "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl)
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  (cd "$mod" && go mod init envtest/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" \
    && go build -trimpath -ldflags=-s -o "$OUT/etcd" go.etcd.io/etcd/server/v3)
}

echo "provide-binaries: building etcd v$ETCD_VERSION and Kubernetes v$K8S_VERSION into $OUT (cold build: many minutes)" >&2
[ -x "$OUT/etcd" ] || build_etcd >&2
[ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kubectl" ] || build_kubernetes >&2
have_all "$OUT" || { echo "provide-binaries: build finished without all three binaries in $OUT" >&2; exit 1; }
echo "$OUT"
