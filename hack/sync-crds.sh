#!/usr/bin/env bash
# Keep the chart's copy of the PodEIP CRD identical to crds/ (the source of truth).
#   hack/sync-crds.sh          copy crds/podeips.alibabacloud.com.yaml into the chart
#   hack/sync-crds.sh --check  exit 1 if the copy differs (for `make verify` and CI)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/crds/podeips.alibabacloud.com.yaml"
dst="$root/charts/podeip-operator/crds/podeips.alibabacloud.com.yaml"

[ -f "$src" ] || { echo "sync-crds: $src is missing" >&2; exit 1; }
case "${1:-}" in
  --check)
    if ! cmp -s "$src" "$dst"; then
      echo "sync-crds: $dst differs from $src; run hack/sync-crds.sh" >&2
      exit 1
    fi
    echo "sync-crds: chart CRD is in sync"
    ;;
  "")
    cp "$src" "$dst"
    echo "sync-crds: copied $src to $dst"
    ;;
  *)
    echo "usage: $0 [--check]" >&2
    exit 2
    ;;
esac
