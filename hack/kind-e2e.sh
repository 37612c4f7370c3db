#!/usr/bin/env bash
# End to end on kind, for machines with Docker: build the image, load it into a kind cluster,
# install the chart with the simulated Alibaba Cloud as a loopback sidecar (the real SDK talks
# to it through the endpoint overrides), run the ACK document's Deployment and check that its
# pod gets an EIP, then that the EIP goes away with the Deployment (release strategy Follow).
#
#   hack/kind-e2e.sh                 create cluster, test, delete cluster
#   KEEP_CLUSTER=1 hack/kind-e2e.sh  leave the cluster running for inspection
# A cluster that already existed is reused and never deleted.
#
# Environment: CLUSTER (default podeip-e2e), IMAGE (default podeip-operator:e2e),
# SIM_EXTRA_ARGS (JSON list of extra `podeip cloud-sim` arguments; default: kind's pod range as
# the VPC range, so that the simulated ENIs hold the pods' IPs),
# TIMEOUT (seconds per wait, default 180), HELM, KUBECTL, KIND (binaries; default from PATH).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
CLUSTER=${CLUSTER:-podeip-e2e}
IMAGE=${IMAGE:-podeip-operator:e2e}
SIM_EXTRA_ARGS=${SIM_EXTRA_ARGS:-'["--vpc-cidr","10.244.0.0/16"]'}
TIMEOUT=${TIMEOUT:-180}
HELM=${HELM:-helm}
KUBECTL=${KUBECTL:-kubectl}
KIND=${KIND:-kind}
NAMESPACE=kube-system
RELEASE=podeip
APP_NS=podeip-e2e
CONTEXT="kind-$CLUSTER"

say() { printf '\n[kind-e2e %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { printf '\n[kind-e2e] FAILED: %s\n' "$*" >&2; diagnostics; exit 1; }
k() { "$KUBECTL" --context "$CONTEXT" "$@"; }

diagnostics() {
  # Best effort: show what the operator and the cluster were doing.
  set +e
  echo "---- operator pods" >&2
  k -n "$NAMESPACE" get pods -l app.kubernetes.io/instance="$RELEASE" -o wide >&2
  echo "---- operator log (last 80 lines)" >&2
  k -n "$NAMESPACE" logs deploy/"$RELEASE"-podeip-operator -c operator --tail 80 >&2
  echo "---- simulator log (last 40 lines)" >&2
  k -n "$NAMESPACE" logs deploy/"$RELEASE"-podeip-operator -c cloud-sim --tail 40 >&2
  echo "---- PodEIPs and pods in $APP_NS" >&2
  k -n "$APP_NS" get podeips,pods -o wide >&2
  echo "---- Events in $APP_NS" >&2
  k -n "$APP_NS" get events --sort-by=.lastTimestamp >&2
  set -e
}

created=0
cleanup() {
  if [ "$created" = 0 ] || [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    say "keeping cluster $CLUSTER (delete it with: $KIND delete cluster --name $CLUSTER)"
  else
    say "deleting cluster $CLUSTER"
    "$KIND" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
}

# wait_until DESCRIPTION COMMAND... -- retry COMMAND every 2 s until it succeeds or TIMEOUT
wait_until() {
  local what=$1; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || fail "timed out after ${TIMEOUT}s waiting for $what"
    sleep 2
  done
}

for tool in docker "$KIND" "$KUBECTL" "$HELM"; do
  command -v "$tool" >/dev/null || { echo "[kind-e2e] '$tool' is not on PATH; this script needs Docker, kind, kubectl and helm" >&2; exit 2; }
done
docker info >/dev/null 2>&1 || { echo "[kind-e2e] the Docker daemon is not reachable" >&2; exit 2; }

say "building image $IMAGE"
docker build -t "$IMAGE" "$root"

if "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "reusing kind cluster $CLUSTER"
else
  say "creating kind cluster $CLUSTER"
  "$KIND" create cluster --name "$CLUSTER" --wait 120s
  created=1
fi
trap cleanup EXIT

say "loading $IMAGE into the cluster"
"$KIND" load docker-image "$IMAGE" --name "$CLUSTER"

say "installing the chart (simulated cloud sidecar)"
"$HELM" --kube-context "$CONTEXT" upgrade --install "$RELEASE" "$root/charts/podeip-operator" \
  --namespace "$NAMESPACE" \
  --values "$root/tests/chart/values/simulator.yaml" \
  --set image.repository="${IMAGE%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set-json "podeip.simulator.extraArgs=$SIM_EXTRA_ARGS" \
  --wait --timeout "${TIMEOUT}s" \
  || fail "helm install did not become ready"

say "creating the ACK document's Deployment in namespace $APP_NS"
k create namespace "$APP_NS" --dry-run=client -o yaml | k apply -f -
k -n "$APP_NS" apply -f "$root/crds/samples/deployment-auto-follow.yaml"

pod_has_eip() {
  local pod
  pod=$(k -n "$APP_NS" get pods -l app=example -o jsonpath='{.items[0].metadata.name}')
  [ -n "$pod" ] || return 1
  local eip
  eip=$(k -n "$APP_NS" get pod "$pod" -o jsonpath='{.metadata.annotations.k8s\.aliyun\.com/allocated-eipAddress}')
  [ -n "$eip" ] || return 1
  echo "$pod $eip"
}
wait_until "the pod's allocated-eipAddress annotation" pod_has_eip
read -r pod eip < <(pod_has_eip)
say "pod $pod has EIP $eip"

other=$(k -n "$APP_NS" get pod "$pod" -o jsonpath='{.metadata.annotations.network\.alibabacloud\.com/allocated-eipAddress}')
[ "$other" = "$eip" ] || fail "network.alibabacloud.com/allocated-eipAddress is '$other', expected '$eip'"

podeip_in_use() {
  [ "$(k -n "$APP_NS" get podeip "$pod" -o jsonpath='{.status.status}')" = InUse ]
}
wait_until "PodEIP $pod to be InUse" podeip_in_use

gate_true() {
  [ "$(k -n "$APP_NS" get pod "$pod" -o jsonpath='{.status.conditions[?(@.type=="k8s.aliyun.com/eip")].status}')" = True ]
}
wait_until "the k8s.aliyun.com/eip readiness condition of $pod" gate_true
k -n "$APP_NS" wait --for=condition=Ready pod/"$pod" --timeout "${TIMEOUT}s" \
  || fail "pod $pod did not become Ready"
say "PodEIP $pod is InUse and the pod is Ready"

say "deleting the Deployment: the EIP follows the pod"
k -n "$APP_NS" delete deployment example --wait=true
podeip_gone() { ! k -n "$APP_NS" get podeip "$pod" >/dev/null 2>&1; }
wait_until "PodEIP $pod to be released and deleted" podeip_gone

say "PASSED"
