#!/usr/bin/env bash
# Provides the extra binaries of the test control plane's *cluster mode* (test/envtest/cluster.ts):
# kube-controller-manager and kube-scheduler, kwok (fake nodes and pods) with its stages, and the
# real Flux source-controller and kustomize-controller. All built from the Go module proxy at
# pinned versions into a cache keyed by those versions. Idempotent; prints the directory on its
# last line. The light mode (kube-apiserver + etcd, provide-binaries.sh) does not need any of this.
#
#   - Kubernetes: the same wrapper module as provide-binaries.sh (k8s.io/kubernetes with every
#     staging module replaced by its v0.X release).
#   - kwok: `go install` works as is; the binary has no built-in stages, so the module's
#     kustomize/stage/ YAML is copied next to it.
#   - Flux: the controllers' main modules carry `replace` lines, which `go install mod@v` refuses;
#     a wrapper module requires the controller and copies its non-local replaces (dropping
#     `=> ./api`). source-controller v1.9.6 needs fluxcd/pkg/artifact v0.18.0 (the proxy refuses
#     the v0.18.3 it asks for). v1.10.x needs Go 1.27, so v1.9.6 is pinned.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.36.3}
KWOK_VERSION=${KWOK_VERSION:-0.8.0}
SOURCE_CONTROLLER_VERSION=${SOURCE_CONTROLLER_VERSION:-1.9.6}
KUSTOMIZE_CONTROLLER_VERSION=${KUSTOMIZE_CONTROLLER_VERSION:-1.9.6}
CACHE_ROOT=${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gitops-rollback/envtest}
OUT="$CACHE_ROOT/cluster-k8s-$K8S_VERSION-kwok-$KWOK_VERSION-source-$SOURCE_CONTROLLER_VERSION-kustomize-$KUSTOMIZE_CONTROLLER_VERSION"
BINARIES=(kube-controller-manager kube-scheduler kwok source-controller kustomize-controller)

have_all() {
  for b in "${BINARIES[@]}"; do [ -x "$OUT/$b" ] || return 1; done
  [ -d "$OUT/kwok-stages" ]
}

if have_all; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "provide-cluster-binaries: go is needed to build the cluster binaries" >&2; exit 1; }
mkdir -p "$OUT"
exec 9>"$OUT.lock"
flock -n 9 || { echo "provide-cluster-binaries: another process is building $OUT; waiting for it" >&2; flock 9; }
if have_all; then echo "$OUT"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local

log() { echo "provide-cluster-binaries: $(date +%H:%M:%S) $*" >&2; }
# Built under a temporary name and renamed: an interrupted build never leaves a truncated binary.
install_binary() { mv -f "$OUT/.$1.partial" "$OUT/$1"; }
module_file() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'; }
module_dir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

# The non-local replace directives of a go.mod (single-line and block form), one per line.
remote_replaces() {
  awk '
    /^replace[[:space:]]*\($/ { inblock = 1; next }
    inblock && /^\)/ { inblock = 0; next }
    inblock { print; next }
    /^replace[[:space:]]/ { sub(/^replace[[:space:]]+/, ""); print }
  ' "$1" | grep -v '=>[[:space:]]*\./' || true
}

build_kubernetes() {
  local mod="$work/kubernetes" upstream minor stamp=-s
  mkdir -p "$mod"
  upstream=$(module_file "k8s.io/kubernetes@v$K8S_VERSION")
  minor=${K8S_VERSION#1.}; minor=${minor%%.*}
  {
    echo "module envtest/kubernetes"
    grep -E '^go [0-9.]+$' "$upstream"
    grep -E '^godebug ' "$upstream" || true
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo "replace ("
    grep -E '=> \./staging/' "$upstream" | awk -v v="v0.${K8S_VERSION#1.}" '{print "\t" $1 " => " $1 " " v}'
    echo ")"
  } > "$mod/go.mod"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    stamp="$stamp -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  (cd "$mod" && go get "k8s.io/kubernetes/cmd/kube-controller-manager@v$K8S_VERSION" "k8s.io/kubernetes/cmd/kube-scheduler@v$K8S_VERSION")
  for cmd in kube-controller-manager kube-scheduler; do
    [ -x "$OUT/$cmd" ] && continue
    log "building $cmd v$K8S_VERSION"
    (cd "$mod" && go build -trimpath -ldflags="$stamp" -o "$OUT/.$cmd.partial" "k8s.io/kubernetes/cmd/$cmd")
    install_binary "$cmd"
  done
}

build_kwok() {
  log "building kwok v$KWOK_VERSION"
  GOBIN="$work/kwok-bin" go install "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  local dir
  dir=$(module_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")
  rm -rf "$OUT/kwok-stages.partial" && mkdir -p "$OUT/kwok-stages.partial"
  # The fast stages: nodes become Ready and pods Running at once (kwok's defaults).
  local stage
  for stage in "$dir"/kustomize/stage/node/fast/*.yaml "$dir"/kustomize/stage/pod/fast/*.yaml; do
    # Each directory also holds a kustomization.yaml listing its stages: not a stage itself.
    [ "$(basename "$stage")" = kustomization.yaml ] || cp "$stage" "$OUT/kwok-stages.partial/"
  done
  chmod -R u+w "$OUT/kwok-stages.partial"
  rm -rf "$OUT/kwok-stages" && mv "$OUT/kwok-stages.partial" "$OUT/kwok-stages"
  mv -f "$work/kwok-bin/kwok" "$OUT/kwok"
}

# build_flux NAME VERSION [EXTRA_REPLACE...]
build_flux() {
  local name=$1 version=$2; shift 2
  local mod="$work/$name" upstream
  mkdir -p "$mod"
  upstream=$(module_file "github.com/fluxcd/$name@v$version")
  {
    echo "module envtest/$name"
    grep -E '^go [0-9.]+$' "$upstream"
    grep -E '^godebug ' "$upstream" || true
    echo "require github.com/fluxcd/$name v$version"
    remote_replaces "$upstream" | sed 's/^[[:space:]]*/replace /'
    for extra in "$@"; do echo "replace $extra"; done
  } > "$mod/go.mod"
  log "building $name v$version"
  (cd "$mod" && go get "github.com/fluxcd/$name@v$version" \
    && go build -trimpath -ldflags=-s -o "$OUT/.$name.partial" "github.com/fluxcd/$name")
  install_binary "$name"
}

log "building into $OUT (cold: about 15-25 minutes on 2 cores; cached afterwards)"
{ [ -x "$OUT/kube-controller-manager" ] && [ -x "$OUT/kube-scheduler" ]; } || build_kubernetes
{ [ -x "$OUT/kwok" ] && [ -d "$OUT/kwok-stages" ]; } || build_kwok
[ -x "$OUT/kustomize-controller" ] || build_flux kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
[ -x "$OUT/source-controller" ] || build_flux source-controller "$SOURCE_CONTROLLER_VERSION" \
  'github.com/fluxcd/pkg/artifact => github.com/fluxcd/pkg/artifact v0.18.0'
have_all || { echo "provide-cluster-binaries: build finished without every binary in $OUT" >&2; exit 1; }
log "done"
echo "$OUT"
