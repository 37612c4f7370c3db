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

# build NAME VERSION BINARIES... -- run build_NAME VERSION DIR BINARIES... unless every binary exists and the stamp matches
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
  ( "build_$name" "$version" "$dir" "$@" >"$CACHE/logs/$name.log" 2>&1 ) &
  local pid=$!
  local polls=0
  while kill -0 $pid 2>/dev/null; do
    sleep 1
    polls=$((polls + 1))
    [ $((polls % 30)) = 0 ] && kill -0 $pid 2>/dev/null && log "$name v$version: still building, $((SECONDS - start))s elapsed"
  done
  if ! wait $pid; then
    log "$name v$version: FAILED after $((SECONDS - start))s; last lines of the log:"
    tail -n 30 "$CACHE/logs/$name.log"
    return 1
  fi
  echo "$want" >"$stamp"
  log "$name v$version: built in $((SECONDS - start))s"
}

# kubernetes_module K: the wrapper module for k8s.io/kubernetes@vK (its staging modules pinned at
# v0.x), in the current directory; prints the -X version stamps for -ldflags.
kubernetes_module() {
  local K=$1 S="0.${1#1.}"
  [ -f go.mod ] || go mod init podeip.local/kubernetes-wrapper >&2
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  local mod
  for mod in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$gomod"); do
    go mod edit -replace="$mod=$mod@v$S"
  done
  go get "k8s.io/kubernetes@v$K" >&2
  local minor=${S#0.}; minor=${minor%%.*}
  echo "-X k8s.io/component-base/version.gitVersion=v$K -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=v$K -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
}

# build_kubernetes VERSION DIR COMMANDS...: those commands of k8s.io/kubernetes/cmd, from the
# wrapper module, stamped like the release. The control plane and the real node use it alike.
build_kubernetes() {
  local K=$1 dir=$2; shift 2
  local work="$CACHE/src/kubernetes-v$K"
  mkdir -p "$work" "$dir/bin"; cd "$work"
  local stamp cmd packages=()
  stamp=$(kubernetes_module "$K")
  for cmd in "$@"; do packages+=("k8s.io/kubernetes/cmd/$cmd"); done
  go build -trimpath -ldflags "-s -w $stamp" -o "$dir/bin/" "${packages[@]}"
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

# ---- the real node (tests/testbed/node.py): kubelet, kube-proxy and the pause image ----------
# kubelet and kube-proxy from the same wrapper module as the control plane, into their own
# directory (so that a missing kubelet never rebuilds the control plane).
build_node() { build_kubernetes "$@"; }

# The pause image of that Kubernetes release: its build/pause/linux/pause.c, static, in a
# `docker save` archive made here (FROM scratch: one layer, no Docker needed). The tag is the
# release's own (build/pause/Makefile); the name is written to $dir/image-name.
build_pause() {
  local K=$1 dir=$2
  mkdir -p "$dir/bin"
  local src
  src=$(GOFLAGS= go mod download -json "k8s.io/kubernetes@v$K" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  local tag
  tag=$(awk -F' *[?:]?= *' '$1 == "TAG" {print $2; exit}' "$src/build/pause/Makefile")
  [ -n "$tag" ] || { echo "no TAG in $src/build/pause/Makefile" >&2; return 1; }
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-podeip" -o "$dir/bin/pause" "$src/build/pause/linux/pause.c"
  echo "local/pause:$tag" >"$dir/image-name"
  python3 - "$dir/bin/pause" "local/pause:$tag" "$dir/pause.tar" <<'PY'
import hashlib, io, json, sys, tarfile
binary, name, out = sys.argv[1:]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
    info = tar.gettarinfo(binary, arcname="pause")
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = 0
    with open(binary, "rb") as f:
        tar.addfile(info, f)
data = layer.getvalue()
digest = hashlib.sha256(data).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"User": "65535:65535", "Entrypoint": ["/pause"]},
    "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest}"]},
    "history": [{"created_by": "hack/testbed-build.sh build_pause"}],
}, sort_keys=True).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": config_name, "RepoTags": [name], "Layers": [f"{digest}/layer.tar"]}]).encode()
with tarfile.open(out, mode="w") as tar:
    for path, content in ((f"{digest}/layer.tar", data), (config_name, config), ("manifest.json", manifest)):
        info = tarfile.TarInfo(path)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
PY
}
# ---- end of the real node --------------------------------------------------------------------

only=${1:-all}
case $only in
  all)
    build etcd "$ETCD_VERSION" etcd
    build kwok "$KWOK_VERSION" kwok
    build helm "$HELM_VERSION" helm
    build kubernetes "$KUBERNETES_VERSION" kube-apiserver kube-controller-manager kube-scheduler kubectl
    build node "$KUBERNETES_VERSION" kubelet kube-proxy
    build pause "$KUBERNETES_VERSION" pause
    ;;
  node) build node "$KUBERNETES_VERSION" kubelet kube-proxy ;;
  pause) build pause "$KUBERNETES_VERSION" pause ;;
  print-cache) echo "$CACHE" ;;
  *) build "$only" "$(eval echo "\$${only^^}_VERSION")" "${@:2}" ;;
esac
