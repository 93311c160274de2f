#!/usr/bin/env bash
# Build a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl), kwok and helm from the Go module proxy with the plain `go`
# client, into a cache directory keyed by the pinned versions:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/fedops/k8s-<k8s>-etcd-<etcd>-kwok-<kwok>-helm-<helm>/bin/
#
# Idempotent: when every binary is already there it exits at once. The bin dir is printed
# on stdout as the last line (all build chatter goes to stderr), so a Makefile can do
#   K8S_BIN := $(shell bash scripts/k8s/build.sh | tail -n1)
#
# Needs Go >= 1.26.0 (the pinned modules declare `go 1.26.0`); runs with GOTOOLCHAIN=local,
# so no toolchain is downloaded. Cold build on 2 cores: see /work/notes/k8s.md.
#
# Environment knobs (all optional):
#   K8S_VERSION, ETCD_VERSION, KWOK_VERSION, HELM_VERSION   override the pins
#   FEDOPS_CACHE_DIR     cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/fedops)
#   K8S_BUILD_JOBS       `go build -p` (default 1: keeps the machine usable)
#   K8S_BUILD_MAXPROCS   GOMAXPROCS for the go command and compiler (default 2)
set -euo pipefail

# Pins. Why these: see /work/notes/k8s.md.
#  - Kubernetes v1.37.2: newest stable release on the proxy; its go.mod says `go 1.26.0`.
#  - etcd v3.7.3: kubeadm v1.37 defaults to etcd 3.7.0 (minimum 3.5.24); latest 3.7 patch.
#  - kwok v0.8.0, helm v3.22.0: newest releases, both `go 1.26.0`, no replace directives.
K8S_VERSION=${K8S_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.7.3}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
HELM_VERSION=${HELM_VERSION:-v3.22.0}

CACHE_ROOT=${FEDOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fedops}
KEY="k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}-helm-${HELM_VERSION}"
DIR="$CACHE_ROOT/$KEY"
BIN="$DIR/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)

# kwok's binary has no built-in stages (only kwokctl embeds them): build_kwok copies the
# release's own "fast" node/pod stages plus the lease heartbeat into this file.
KWOK_STAGES="$DIR/share/kwok-stages.yaml"

all_present() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
  [[ -s "$KWOK_STAGES" ]]
}

if all_present; then
  echo "$BIN"
  exit 0
fi

log() { echo "[k8s-build] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go not found on PATH"

mkdir -p "$BIN" "$DIR/src"
# One builder at a time per key (a second caller waits, then finds the binaries).
exec 9>"$DIR/.lock"
if command -v flock >/dev/null; then
  flock 9
  if all_present; then echo "$BIN"; exit 0; fi
fi

export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"
export GOMAXPROCS=${K8S_BUILD_MAXPROCS:-2}
# The Go build cache of a cold build is ~5 GB and useless once the binaries exist, so by
# default it lives in the key dir and is removed after a successful build (kept after a
# failure so a retry is warm). K8S_BUILD_GOCACHE=<dir> uses (and keeps) that cache instead,
# e.g. K8S_BUILD_GOCACHE="$(go env GOCACHE)" to share the user's cache.
if [[ -n "${K8S_BUILD_GOCACHE:-}" ]]; then
  export GOCACHE="$K8S_BUILD_GOCACHE"
  PRIVATE_GOCACHE=0
else
  export GOCACHE="$DIR/.gocache"
  PRIVATE_GOCACHE=1
fi
JOBS=${K8S_BUILD_JOBS:-1}
GO=(nice -n 10 go)

# Check the local Go is new enough for `go 1.26.0` modules without downloading a toolchain.
gover=$(go env GOVERSION)         # e.g. go1.26.8
gover=${gover#go}
if [[ "$(printf '%s\n' "1.26.0" "$gover" | sort -V | head -n1)" != "1.26.0" ]]; then
  die "Go $gover is older than 1.26.0, which the pinned modules require (GOTOOLCHAIN=local)"
fi

# Per-step timing and peak RSS (largest single process) when GNU time is available.
TIME=()
if [[ -x /usr/bin/time ]]; then
  TIME=(/usr/bin/time -f "[k8s-build]   %C: %e s wall, %U s user, max RSS %M KB")
fi

run() { log "+ $*"; "${TIME[@]}" "$@"; }

install_atomic() {  # move built file $1 to $BIN/$2 atomically
  chmod +x "$1"
  mv -f "$1" "$BIN/$2"
}

# ---------------------------------------------------------------------------------------
# Kubernetes: throw-away wrapper module. k8s.io/kubernetes' go.mod replaces every staging
# module with ./staging/src/k8s.io/<x>, which only works inside its own tree; the wrapper
# replaces each with the published k8s.io/<x> v0.<minor>.<patch> instead.
# ---------------------------------------------------------------------------------------
build_kubernetes() {
  local need=0 b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [[ -x "$BIN/$b" ]] || need=1
  done
  [[ $need == 1 ]] || return 0

  local ver=${K8S_VERSION#v}                 # 1.37.2
  local major=${ver%%.*}                     # 1
  local rest=${ver#*.}
  local minor=${rest%%.*}                    # 37
  local staging_ver="v0.${rest}"             # v0.37.2
  local w="$DIR/src/kubernetes"
  rm -rf "$w" && mkdir -p "$w"

  log "fetching k8s.io/kubernetes@$K8S_VERSION go.mod"
  local info gomod
  info=$(cd "$w" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(printf '%s' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || die "could not download k8s.io/kubernetes@$K8S_VERSION: $info"

  # Build date: the release's publication time on the proxy (reproducible, not "now").
  local build_date
  build_date=$(cat "$(dirname "$gomod")/$K8S_VERSION.info" | sed -n 's/.*"Time":"\([^"]*\)".*/\1/p')
  build_date=${build_date:-1970-01-01T00:00:00Z}

  {
    echo "// Generated by scripts/k8s/build.sh: throw-away wrapper to build k8s.io/kubernetes commands."
    echo "module fedops.local/k8sbuild"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    # Every `k8s.io/<x> => ./staging/...` line becomes `k8s.io/<x> => k8s.io/<x> v0.Y.Z`.
    awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod" | sort -u |
      while read -r m; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_ver"; done
    echo ")"
  } >"$w/go.mod"
  grep -q "=> k8s.io/api $staging_ver" "$w/go.mod" || die "no staging replace lines found in $gomod"

  local x=()
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    x+=("-X '$p.gitVersion=$K8S_VERSION'" "-X '$p.gitMajor=$major'" "-X '$p.gitMinor=$minor'"
        "-X '$p.gitTreeState=clean'" "-X '$p.buildDate=$build_date'"
        "-X '$p.gitCommit='")   # the module zip has no commit; default is "$Format:%H$"
  done
  local ldflags="-s -w ${x[*]}"

  local out="$DIR/src/kubernetes/out"
  mkdir -p "$out"
  log "building kube-apiserver kube-controller-manager kube-scheduler kubectl $K8S_VERSION (go build -p $JOBS)"
  (cd "$w" && run "${GO[@]}" build -p "$JOBS" -trimpath -ldflags "$ldflags" -o "$out/" \
      k8s.io/kubernetes/cmd/kube-apiserver \
      k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler \
      k8s.io/kubernetes/cmd/kubectl)
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    install_atomic "$out/$b" "$b"
  done
}

# ---------------------------------------------------------------------------------------
# etcd: go.etcd.io/etcd/server/v3 replaces its sibling modules with ../api etc., and the
# `etcd` main package lives in the root module (go.etcd.io/etcd/v3), whose go.mod has
# replace lines too. The wrapper has its own main that calls etcdmain.Main, like etcd's
# root main.go, and requires the sibling modules at the same version.
# ---------------------------------------------------------------------------------------
build_etcd() {
  [[ -x "$BIN/etcd" ]] && return 0
  local w="$DIR/src/etcd"
  rm -rf "$w" && mkdir -p "$w"
  cat >"$w/go.mod" <<EOF
// Generated by scripts/k8s/build.sh: throw-away wrapper to build the etcd server.
module fedops.local/etcdbuild

go 1.26.0

require (
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
)
EOF
  cat >"$w/main.go" <<'EOF'
// Generated by scripts/k8s/build.sh. Same as etcd's root main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
EOF
  log "building etcd $ETCD_VERSION"
  (cd "$w" && run "${GO[@]}" build -p "$JOBS" -trimpath \
      -ldflags "-s -w -X 'go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION'" \
      -o "$w/etcd" .)
  install_atomic "$w/etcd" etcd
}

# ---------------------------------------------------------------------------------------
# kwok and helm: plain `go install module/cmd@version` (their go.mod files have no replace).
# ---------------------------------------------------------------------------------------
build_kwok_stages() {
  [[ -s "$KWOK_STAGES" ]] && return 0
  local info dir f
  info=$(cd "$DIR/src" && GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION")
  dir=$(printf '%s' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$dir/kustomize/stage" ]] || die "no kustomize/stage in sigs.k8s.io/kwok@$KWOK_VERSION: $info"
  mkdir -p "$(dirname "$KWOK_STAGES")"
  {
    echo "# kwok stages from sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage (what kwokctl uses)."
    echo "# Use: kwok --config=<this file> --node-lease-duration-seconds=40 ..."
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [[ -f "$dir/kustomize/stage/$f" ]] || die "missing kwok stage $f"
      echo "---"
      echo "# $f"
      cat "$dir/kustomize/stage/$f"
    done
  } >"$KWOK_STAGES.tmp"
  mv -f "$KWOK_STAGES.tmp" "$KWOK_STAGES"
}

build_kwok() {
  build_kwok_stages
  [[ -x "$BIN/kwok" ]] && return 0
  local gb="$DIR/src/gobin-kwok"
  rm -rf "$gb" && mkdir -p "$gb"
  log "building kwok $KWOK_VERSION"
  (cd "$DIR/src" && GOBIN="$gb" GOFLAGS=-buildvcs=false run "${GO[@]}" install -p "$JOBS" -trimpath \
      -ldflags "-s -w -X 'sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}'" \
      "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION")
  install_atomic "$gb/kwok" kwok
}

build_helm() {
  [[ -x "$BIN/helm" ]] && return 0
  local gb="$DIR/src/gobin-helm"
  rm -rf "$gb" && mkdir -p "$gb"
  # Like helm's Makefile: the Kubernetes version helm assumes when no cluster is asked
  # (lint, template) comes from the k8s.io/client-go version in helm's go.mod.
  local info gomod cg cg_minor
  info=$(cd "$DIR/src" && GOFLAGS= go mod download -json "helm.sh/helm/v3@$HELM_VERSION")
  gomod=$(printf '%s' "$info" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f "$gomod" ]] || die "could not download helm.sh/helm/v3@$HELM_VERSION: $info"
  cg=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod")   # v0.35.1
  cg_minor=$(echo "$cg" | cut -d. -f2)
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [[ -n "$cg_minor" ]]; then
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1"
    ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$cg_minor"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1"
    ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$cg_minor"
  fi
  log "building helm $HELM_VERSION"
  (cd "$DIR/src" && GOBIN="$gb" GOFLAGS=-buildvcs=false run "${GO[@]}" install -p "$JOBS" -trimpath \
      -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
  install_atomic "$gb/helm" helm
}

start=$SECONDS
log "building into $DIR with $(go version)"
build_etcd
build_kwok
build_helm
build_kubernetes

all_present || die "some binaries are missing from $BIN"
cat >"$DIR/VERSIONS" <<EOF
kubernetes $K8S_VERSION
etcd $ETCD_VERSION
kwok $KWOK_VERSION
helm $HELM_VERSION
go $(go env GOVERSION)
EOF
if [[ $PRIVATE_GOCACHE == 1 ]]; then
  # Module cache files are read-only; the build cache is not, plain rm works.
  rm -rf "$GOCACHE"
fi
log "done in $((SECONDS - start)) s"
echo "$BIN"
