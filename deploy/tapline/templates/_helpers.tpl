{{/* Names and labels shared by every template. */}}
{{- define "tapline.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tapline.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tapline.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tapline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tapline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "tapline.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* The store's Secret: the user's existing one or the chart's own. */}}
{{- define "tapline.storeSecret" -}}
{{- default (printf "%s-store" (include "tapline.fullname" .)) .Values.store.existingSecret -}}
{{- end -}}

{{- define "tapline.tokenSecret" -}}
{{- default (printf "%s-hub-token" (include "tapline.fullname" .)) .Values.hub.existingTokenSecret -}}
{{- end -}}

{{- define "tapline.storeUrl" -}}
{{- if .Values.clickhouse.enabled -}}
http://{{ include "tapline.fullname" . }}-clickhouse:8123
{{- else -}}
{{- required "store.url is required when clickhouse.enabled is false" .Values.store.url -}}
{{- end -}}
{{- end -}}

{{/* Store settings as environment variables (the names store/config.ts reads). */}}
{{- define "tapline.storeEnv" -}}
- name: TAPLINE_CLICKHOUSE_URL
  value: {{ include "tapline.storeUrl" . | quote }}
- name: TAPLINE_CLICKHOUSE_DATABASE
  value: {{ .Values.store.database | quote }}
- name: TAPLINE_CLICKHOUSE_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "tapline.storeSecret" . }}
      key: {{ .Values.store.userKey }}
- name: TAPLINE_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "tapline.storeSecret" . }}
      key: {{ .Values.store.passwordKey }}
{{- end -}}

{{/* A password kept across upgrades: the existing Secret's value, else a new random one. */}}
{{- define "tapline.keepOrGenerate" -}}
{{- $existing := lookup "v1" "Secret" .namespace .secret -}}
{{- if and $existing (index $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end -}}
