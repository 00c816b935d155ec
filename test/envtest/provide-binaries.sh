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

if [ -n "${KUBEBUILDER_ASSETS:-}" ]; then
  if have_all "$KUBEBUILDER_ASSETS"; then echo "$KUBEBUILDER_ASSETS"; exit 0; fi
  echo "provide-binaries: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks kube-apiserver, etcd or kubectl; ignoring it" >&2
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
# One build at a time per version (parallel test runs, CI jobs sharing a cache); whoever waited
# finds the binaries the first one built.
exec 9>"$OUT.lock"
flock -n 9 || { echo "provide-binaries: another process is building $OUT; waiting for it" >&2; flock 9; }
if have_all "$OUT"; then
  echo "$OUT"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

# Binaries are built under a temporary name and renamed, so an interrupted build never leaves a
# truncated executable that have_all would take for a finished one.
install_binary() { mv -f "$OUT/.$1.partial" "$OUT/$1"; }

build_kubernetes() {
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  local upstream
  upstream=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod
  local minor=${K8S_VERSION#1.}
  minor=${minor%%.*}
  {
    echo "module envtest/kubernetes"
    grep -E '^go [0-9.]+$' "$upstream"
    grep -E '^godebug ' "$upstream" || true
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo "replace ("
    # Every staging module (=> ./staging/...) becomes its published v0.X release.
    grep -E '=> \./staging/' "$upstream" | awk -v v="v0.${K8S_VERSION#1.}" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$mod/go.mod"
  # Stamp the version as Kubernetes' own build does, so clients see v$K8S_VERSION, not v0.0.0-master.
  local stamp="-s"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp="$stamp -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$mod" && go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$K8S_VERSION" \
    && go build -trimpath -ldflags="$stamp" -o "$OUT/.kube-apiserver.partial" k8s.io/kubernetes/cmd/kube-apiserver \
    && go build -trimpath -ldflags="$stamp" -o "$OUT/.kubectl.partial" k8s.io/kubernetes/cmd/kubectl)
  install_binary kube-apiserver
  install_binary kubectl
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  (cd "$mod" && go mod init envtest/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" \
    && go build -trimpath -ldflags=-s -o "$OUT/.etcd.partial" go.etcd.io/etcd/server/v3)
  install_binary etcd
}

echo "provide-binaries: building etcd v$ETCD_VERSION and Kubernetes v$K8S_VERSION into $OUT (cold build: many minutes)" >&2
[ -x "$OUT/etcd" ] || build_etcd >&2
[ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kubectl" ] || build_kubernetes >&2
have_all "$OUT" || { echo "provide-binaries: build finished without all three binaries in $OUT" >&2; exit 1; }
echo "$OUT"
