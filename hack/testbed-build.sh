#!/usr/bin/env bash
# Build the local control plane from Go modules into a cache outside the repository.
# Only what is missing is built; each component prints its progress and elapsed time.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null
. "$here/tests/testbed/versions.env"
CACHE=${PODEIP_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/podeip-testbed}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
mkdir -p "$CACHE/src" "$CACHE/logs"
go_version=$(go env GOVERSION)

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# build NAME VERSION BINARIES... -- run the function build_NAME unless every binary exists and the stamp matches
build() {
  local name=$1 version=$2; shift 2
  local dir="$CACHE/$name-v$version" stamp="$CACHE/$name-v$version/stamp"
  local key="${name}_key"
  local want="$name $version $go_version CGO_ENABLED=0 -trimpath${!key:+ ${!key}}"
  local missing=0 b
  for b in "$@"; do [ -x "$dir/bin/$b" ] || missing=1; done
  if [ $missing = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "$name v$version: cached in $dir/bin"
    return 0
  fi
  log "$name v$version: building ($*), log in $CACHE/logs/$name.log"
  local start=$SECONDS
  ( "build_$name" "$version" "$dir" >"$CACHE/logs/$name.log" 2>&1 ) &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    sleep 30
    kill -0 $pid 2>/dev/null && log "$name v$version: still building, $((SECONDS - start))s elapsed"
  done
  if ! wait $pid; then
    log "$name v$version: FAILED after $((SECONDS - start))s; last lines of the log:"
    tail -n 30 "$CACHE/logs/$name.log"
    return 1
  fi
  echo "$want" >"$stamp"
  log "$name v$version: built in $((SECONDS - start))s"
}

build_kubernetes() {
  local K=$1 dir=$2 S="0.${1#1.}"
  local work="$CACHE/src/kubernetes-v$K"
  mkdir -p "$work" "$dir/bin"; cd "$work"
  [ -f go.mod ] || go mod init podeip.local/kubernetes-wrapper
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  local mod
  for mod in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod"); do
    go mod edit -replace="$mod=$mod@v$S"
  done
  go get "k8s.io/kubernetes@v$K"
  local minor=${S#0.}; minor=${minor%%.*}
  local stamp="-X k8s.io/component-base/version.gitVersion=v$K -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v$K -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  go build -trimpath -ldflags "-s -w $stamp" -o "$dir/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_etcd() {
  local E=$1 dir=$2 work="$CACHE/src/etcd-v$1"
  mkdir -p "$work" "$dir/bin"; cd "$work"
  [ -f go.mod ] || go mod init podeip.local/etcd-wrapper
  go get "go.etcd.io/etcd/server/v3@v$E"
  go build -trimpath -ldflags "-s -w" -o "$dir/bin/etcd" go.etcd.io/etcd/server/v3
}

build_kwok() {
  local dir=$2
  mkdir -p "$dir/bin"
  GOBIN="$dir/bin" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$1"
  # the default "fast" stages ship in the module archive
  GOFLAGS= go mod download -json "sigs.k8s.io/kwok@v$1" >"$dir/module.json"
}

# helm as its release build stamps it (helm's Makefile): the full version, and the default
# Kubernetes version of `helm template`/`helm lint` from the client-go it is built with
# (without these, `helm version` says v3.21 and the default is Kubernetes 1.20).
helm_key="release-ldflags"
build_helm() {
  local H=$1 dir=$2
  mkdir -p "$dir/bin"
  local gomod client_go minor
  gomod=$(GOFLAGS= go mod download -json "helm.sh/helm/v3@v$H" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  client_go=$(awk '$1 == "k8s.io/client-go" {print $2; exit}' "$gomod")
  minor=${client_go#v0.}; minor=${minor%%.*}
  local v=helm.sh/helm/v3/internal/version lint=helm.sh/helm/v3/pkg/lint/rules chartutil=helm.sh/helm/v3/pkg/chartutil
  local stamp="-X $v.version=v$H -X $v.gitTreeState=clean -X $lint.k8sVersionMajor=1 -X $lint.k8sVersionMinor=$minor -X $chartutil.k8sVersionMajor=1 -X $chartutil.k8sVersionMinor=$minor"
  GOBIN="$dir/bin" GOFLAGS= go install -trimpath -ldflags "-s -w $stamp" "helm.sh/helm/v3/cmd/helm@v$H"
}

only=${1:-all}
case $only in
  all)
    build etcd "$ETCD_VERSION" etcd
    build kwok "$KWOK_VERSION" kwok
    build helm "$HELM_VERSION" helm
    build kubernetes "$KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler kubectl
    ;;
  print-cache) echo "$CACHE" ;;
  *) build "$only" "$(eval echo "\$${only^^}_VERSION")" "${@:2}" ;;
esac
