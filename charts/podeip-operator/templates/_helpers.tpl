{{/*
Names and labels.
*/}}
{{- define "podeip.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "podeip.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "podeip.selectorLabels" -}}
app.kubernetes.io/name: {{ include "podeip.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "podeip.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "podeip.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "podeip.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "podeip.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "podeip.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Credentials. Returns the name of the Secret holding the AccessKey pair, or "" when the
operator authenticates otherwise (RRSA, worker RAM role, simulated cloud).
*/}}
{{- define "podeip.credentialSecretName" -}}
{{- $c := .Values.credential | default dict }}
{{- if .Values.podeip.credentials.existingSecret }}
{{- .Values.podeip.credentials.existingSecret }}
{{- else if and $c.accessKey $c.accessSecret }}
{{- printf "%s-credential" (include "podeip.fullname" .) }}
{{- else if or $c.accessKey $c.accessSecret }}
{{- fail "credential.accessKey and credential.accessSecret must be given together" }}
{{- end }}
{{- end }}

{{/* Directory where the AccessKey Secret is mounted. */}}
{{- define "podeip.credentialDir" -}}
/etc/podeip/credentials
{{- end }}

{{/* First non-empty spelling of the VPC ID, in AENC's documented order. */}}
{{- define "podeip.vpcID" -}}
{{- $nc := .Values.networkController | default dict }}
{{- coalesce .Values.vpcID $nc.vpcid .Values.vpcid "" }}
{{- end }}

{{/* Union of both places AENC documents customStatefulWorkloadKinds in. */}}
{{- define "podeip.customStatefulWorkloadKinds" -}}
{{- $nc := .Values.networkController | default dict }}
{{- concat (.Values.customStatefulWorkloadKinds | default list) ($nc.customStatefulWorkloadKinds | default list) | uniq | join "," }}
{{- end }}

{{/* The rate-limit table as the operator's settings spell it (per_minute, burst). */}}
{{- define "podeip.rateLimits" -}}
{{- $out := dict }}
{{- range $api, $limit := .Values.podeip.cloud.rateLimits }}
{{- $_ := set $out $api (dict "per_minute" $limit.perMinute "burst" (int (default 10 $limit.burst))) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
THE mapping from values to the operator's settings (src/podeip/settings.py: prefix PODEIP_,
nesting "__"). Every setting the chart controls is here and nowhere else. String lists are
comma-separated (the settings declare them NoDecode); the rate-limit map is JSON.
*/}}
{{/*
Refusals at install/template time: the same rules as the operator's settings
(src/podeip/settings.py), so that a bad value fails `helm install`, not the operator's start.
*/}}
{{- define "podeip.validate" -}}
{{- $p := .Values.podeip }}
{{- if and (eq $p.cloud.provider "alibaba") (not $p.simulator.enabled) (not $p.cloud.vpcEndpoint) (not .Values.regionID) }}
{{- fail "regionID is required: the Alibaba Cloud region of the cluster, e.g. --set regionID=cn-hangzhou" }}
{{- end }}
{{- if contains "xxxx" (lower (toString (.Values.clusterID | default ""))) }}
{{- fail (printf "clusterID %q is a placeholder (it contains \"xxxx\", like the documentation's c11ba338192xxxxxxx): two clusters sharing a cluster ID would sweep each other's kept EIPs. Set this cluster's own ID, or leave clusterID empty to use the kube-system namespace UID" (toString .Values.clusterID)) }}
{{- end }}
{{- if le (float64 .Values.kubeClientQPS) 0.0 }}
{{- fail (printf "kubeClientQPS must be a positive number (a float, e.g. 7.5), not %v" .Values.kubeClientQPS) }}
{{- end }}
{{- end }}

{{- define "podeip.env" -}}
{{- $nc := .Values.networkController | default dict }}
{{- include "podeip.validate" . }}
{{- $eip := $nc.eipController | default dict }}
{{- $p := .Values.podeip }}
{{- $secret := include "podeip.credentialSecretName" . -}}
- name: PODEIP_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- /* The leader Lease's holder: the pod's name and UID, so that the restarted container of
the same pod takes the Lease back at once, while another pod waits for it to expire. */}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_UID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
- name: PODEIP_LEADER__IDENTITY
  value: "$(POD_NAME)_$(POD_UID)"
- name: PODEIP_CLUSTER_ID
  value: {{ .Values.clusterID | default "" | quote }}
- name: PODEIP_CLOUD__REGION_ID
  value: {{ .Values.regionID | default "" | quote }}
- name: PODEIP_CLOUD__VPC_ID
  value: {{ include "podeip.vpcID" . | quote }}
- name: PODEIP_ENABLE_CONTROLLERS
  value: {{ .Values.enableControllers | default list | join "," | quote }}
- name: PODEIP_MAX_CONCURRENT_RECONCILES
  value: {{ $eip.maxConcurrentReconciles | default 1 | int | quote }}
- name: PODEIP_GC__PERIOD_MINUTES
  value: {{ $eip.garbageCollectionPeriodInMinutes | default 1 | quote }}
- name: PODEIP_CUSTOM_STATEFUL_WORKLOAD_KINDS
  value: {{ include "podeip.customStatefulWorkloadKinds" . | quote }}
- name: PODEIP_ENABLE_VIRTUAL_NODE
  value: {{ .Values.enableVirtualNode | default false | quote }}
- name: PODEIP_KUBE_CLIENT_QPS
  value: {{ .Values.kubeClientQPS | quote }}
- name: PODEIP_KUBE_CLIENT_BURST
  value: {{ .Values.kubeClientBurst | int | quote }}
{{- if $p.simulator.enabled }}
- name: PODEIP_CLOUD__PROVIDER
  value: "alibaba"
- name: PODEIP_CLOUD__VPC_ENDPOINT
  value: {{ printf "http://127.0.0.1:%v" $p.simulator.port | quote }}
- name: PODEIP_CLOUD__ECS_ENDPOINT
  value: {{ printf "http://127.0.0.1:%v" $p.simulator.port | quote }}
{{- else }}
- name: PODEIP_CLOUD__PROVIDER
  value: {{ $p.cloud.provider | quote }}
- name: PODEIP_CLOUD__VPC_ENDPOINT
  value: {{ $p.cloud.vpcEndpoint | quote }}
- name: PODEIP_CLOUD__ECS_ENDPOINT
  value: {{ $p.cloud.ecsEndpoint | quote }}
{{- end }}
- name: PODEIP_CLOUD__RATE_LIMITS
  value: {{ include "podeip.rateLimits" . | quote }}
{{- if $secret }}
- name: PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_ID_FILE
  value: {{ printf "%s/access-key-id" (include "podeip.credentialDir" .) | quote }}
- name: PODEIP_CLOUD__CREDENTIALS__ACCESS_KEY_SECRET_FILE
  value: {{ printf "%s/access-key-secret" (include "podeip.credentialDir" .) | quote }}
{{- end }}
{{- if or $secret .Values.enableRRSA }}
{{- /* An explicit identity was chosen: never fall back to the node's RAM role. */}}
- name: PODEIP_CLOUD__CREDENTIALS__USE_ECS_RAM_ROLE
  value: "false"
{{- end }}
- name: PODEIP_GC__ORPHAN_GRACE_MINUTES
  value: {{ $p.gc.orphanGraceMinutes | quote }}
- name: PODEIP_GC__DRY_RUN
  value: {{ $p.gc.dryRun | quote }}
- name: PODEIP_ALLOW_PREPAID
  value: {{ $p.allowPrePaid | quote }}
- name: PODEIP_MAX_BANDWIDTH_MBPS
  value: {{ $p.maxBandwidthMbps | int | quote }}
{{- with $p.maxReleaseAfter }}
- name: PODEIP_MAX_RELEASE_AFTER
  value: {{ . | quote }}
{{- end }}
- name: PODEIP_ADOPT_UNTAGGED_EIPS
  value: {{ $p.adoptUntaggedEips | default false | quote }}
- name: PODEIP_TKE_ANNOTATIONS
  value: {{ $p.tkeAnnotations | quote }}
{{- with $p.keptEipExpiry }}
- name: PODEIP_KEPT_EIP_EXPIRY
  value: {{ . | quote }}
{{- end }}
- name: PODEIP_CASCADE_RECLAIM
  value: {{ $p.cascadeReclaim | quote }}
- name: PODEIP_WATCH__SELECT_LABELED_PODS
  value: {{ dig "selectLabeledPods" false ($p.watch | default dict) | quote }}
- name: PODEIP_LOG_LEVEL
  value: {{ $p.logLevel | quote }}
- name: PODEIP_LOG_FORMAT
  value: {{ $p.logFormat | quote }}
- name: PODEIP_METRICS_PORT
  value: {{ $p.metricsPort | int | quote }}
- name: PODEIP_STANDALONE
  value: "false"
- name: PODEIP_LEADER__LEASE_DURATION_SECONDS
  value: {{ $p.leaderElection.leaseDurationSeconds | quote }}
- name: PODEIP_LEADER__RENEW_EVERY_SECONDS
  value: {{ $p.leaderElection.renewEverySeconds | quote }}
- name: PODEIP_LEADER__RENEW_DEADLINE_SECONDS
  value: {{ $p.leaderElection.renewDeadlineSeconds | quote }}
- name: PODEIP_LEADER__RETRY_EVERY_SECONDS
  value: {{ $p.leaderElection.retryEverySeconds | quote }}
{{- end }}

{{/* The annotations that ask for an EIP, as a CEL list: the same set as ENABLING_KEYS in
src/podeip/reconcile/deps.py (tests/chart checks that they agree). */}}
{{- define "podeip.enablingKeys" -}}
{{- list
  "network.alibabacloud.com/pod-with-eip" "k8s.aliyun.com/pod-with-eip" "k8s.aliyun.com/eci-with-eip"
  "network.alibabacloud.com/pod-eip-instanceid" "k8s.aliyun.com/pod-eip-instanceid" "k8s.aliyun.com/eci-eip-instanceid"
  "network.alibabacloud.com/allocated-eip-id"
  "network.alibabacloud.com/pod-eip-instanceid-list" "k8s.aliyun.com/pod-eip-instanceid-list"
  "tke.cloud.tencent.com/eip-attributes" "tke.cloud.tencent.com/eip-id-list"
  | toJson }}
{{- end }}
