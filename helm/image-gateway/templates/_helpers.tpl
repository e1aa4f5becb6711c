{{/*
Chart name, truncated to the 63-character DNS label limit.
*/}}
{{- define "image-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: <release>-<chart>, or <release> when it already
contains the chart name. Truncated to 63 characters.
*/}}
{{- define "image-gateway.fullname" -}}
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

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "image-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "image-gateway.labels" -}}
helm.sh/chart: {{ include "image-gateway.chart" . }}
{{ include "image-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (immutable on the Deployment: never add to these).
*/}}
{{- define "image-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "image-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Label that NetworkPolicy (allowExternal: false) accepts traffic from.
*/}}
{{- define "image-gateway.clientLabel" -}}
{{- printf "%s-client" (include "image-gateway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "image-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "image-gateway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret the pods read keys from: the existing one or the chart's.
*/}}
{{- define "image-gateway.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "image-gateway.fullname" . }}
{{- end }}
{{- end }}

{{/*
Container image reference (digest wins over tag; tag defaults to appVersion).
*/}}
{{- define "image-gateway.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Client keys as one comma-separated string (the value may be a string or a list).
*/}}
{{- define "image-gateway.gatewayApiKeys" -}}
{{- $keys := .Values.secrets.gatewayApiKeys }}
{{- if kindIs "slice" $keys }}
{{- $keys | compact | join "," }}
{{- else }}
{{- $keys | default "" | toString | trim }}
{{- end }}
{{- end }}

{{/*
Upstream deadline in seconds, read from the gateway config (default 300).
*/}}
{{- define "image-gateway.upstreamDeadline" -}}
{{- $upstream := .Values.config.upstream | default dict }}
{{- $deadline := 300 }}
{{- if and (kindIs "map" $upstream) (hasKey $upstream "deadline_seconds") }}
{{- $deadline = $upstream.deadline_seconds }}
{{- end }}
{{- $deadline | float64 | ceil | int }}
{{- end }}

{{/*
terminationGracePeriodSeconds: explicit value (validated) or deadline + preStop + 30.
*/}}
{{- define "image-gateway.terminationGracePeriodSeconds" -}}
{{- $deadline := include "image-gateway.upstreamDeadline" . | int }}
{{- $sleep := .Values.preStopSleepSeconds | int }}
{{- $minimum := add $deadline $sleep }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $minimum 30 }}
{{- else }}
{{- $grace := .Values.terminationGracePeriodSeconds | int }}
{{- if le $grace $minimum }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be greater than config.upstream.deadline_seconds (%d) + preStopSleepSeconds (%d) = %d, or in-flight image requests are killed on shutdown; raise it or leave it null to compute it" $grace $deadline $sleep $minimum) }}
{{- end }}
{{- $grace }}
{{- end }}
{{- end }}

{{/*
Fail early on values the gateway cannot start with.
*/}}
{{- define "image-gateway.validateValues" -}}
{{- include "image-gateway.validateStorage" . }}
{{- if and (not .Values.secrets.existingSecret) (not (include "image-gateway.gatewayApiKeys" .)) }}
{{- fail "image-gateway needs client API keys: the gateway refuses to listen on a non-loopback address without them. Set secrets.gatewayApiKeys (comma-separated keys or a list; the chart then creates a Secret) or secrets.existingSecret (the name of a Secret you manage, holding GATEWAY_API_KEYS)." }}
{{- end }}
{{- if and .Values.webhooks.enabled (not .Values.webhooks.existingSecret) }}
{{- fail "webhooks.enabled needs webhooks.existingSecret: the name of a Secret you manage holding the signing secret (whsec_ + base64) under webhooks.existingSecretKey (default WEBHOOK_SECRET)." }}
{{- end }}
{{- end }}

{{/*
The config's storage section, from the storage values (empty for kind none).
*/}}
{{- define "image-gateway.storageConfig" -}}
{{- $s := .Values.storage }}
{{- if eq $s.kind "local" }}
kind: local
directory: /var/lib/image-gateway/images
url_secret: "${STORAGE_URL_SECRET}"
prefix: {{ $s.prefix | quote }}
url_ttl_seconds: {{ $s.urlTtlSeconds }}
retention_days: {{ $s.local.retentionDays }}
{{- with $s.publicBaseUrl }}
public_base_url: {{ . | quote }}
{{- end }}
{{- else if eq $s.kind "s3" }}
kind: s3
bucket: {{ $s.s3.bucket | quote }}
region: {{ $s.s3.region | quote }}
prefix: {{ $s.prefix | quote }}
url: {{ $s.s3.url }}
url_ttl_seconds: {{ $s.urlTtlSeconds }}
addressing_style: {{ $s.s3.addressingStyle }}
{{- with $s.s3.endpoint }}
endpoint: {{ . | quote }}
{{- end }}
{{- with $s.publicBaseUrl }}
public_base_url: {{ . | quote }}
{{- end }}
{{- if $s.existingSecret }}
access_key_id: "${S3_ACCESS_KEY_ID}"
secret_access_key: "${S3_SECRET_ACCESS_KEY}"
{{- end }}
{{- end }}
{{- end }}

{{/*
Storage values the gateway could not start with.
*/}}
{{- define "image-gateway.validateStorage" -}}
{{- $s := .Values.storage }}
{{- if and (eq $s.kind "local") (not $s.existingSecret) }}
{{- fail "storage.kind local signs its URLs with STORAGE_URL_SECRET, shared by every replica: set storage.existingSecret to a Secret holding it (at least 16 characters)." }}
{{- end }}
{{- if and (eq $s.kind "s3") (not $s.s3.bucket) }}
{{- fail "storage.kind s3 needs storage.s3.bucket." }}
{{- end }}
{{- if and (eq $s.kind "s3") (eq $s.s3.url "public") (not $s.publicBaseUrl) }}
{{- fail "storage.s3.url public needs storage.publicBaseUrl (the public bucket's or CDN's origin)." }}
{{- end }}
{{- end }}
