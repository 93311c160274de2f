{{/*
Naming. Kubernetes names are DNS labels: at most 63 characters. Component suffixes
("-registry", "-monitoring", "-postgresql", ...) are added to the full name, so the full
name itself is cut to 63 characters and each suffixed name is cut again.
*/}}
{{- define "fedops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fedops.fullname" -}}
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

{{/* "<fullname>-<suffix>", cut to 63 characters. Call with (dict "root" $ "suffix" "registry"). */}}
{{- define "fedops.componentName" -}}
{{- printf "%s-%s" (include "fedops.fullname" .root) .suffix | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fedops.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object of the release carries. */}}
{{- define "fedops.labels" -}}
helm.sh/chart: {{ include "fedops.chart" . }}
{{ include "fedops.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fedops
{{- end }}

{{- define "fedops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fedops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector labels of one component. Call with (dict "root" $ "component" "registry"). */}}
{{- define "fedops.componentLabels" -}}
{{ include "fedops.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fedops.componentSelectorLabels" -}}
{{ include "fedops.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The registry's ServiceAccount: it runs the provisioner, so it is the one bound to the Role. */}}
{{- define "fedops.serviceAccountName" -}}
{{- if .Values.registry.serviceAccount.create }}
{{- default (include "fedops.componentName" (dict "root" . "suffix" "registry")) .Values.registry.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.registry.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ServiceAccount of the FL server pods the provisioner creates (no permissions). */}}
{{- define "fedops.flServerServiceAccountName" -}}
{{- if .Values.provisioner.serviceAccount.create }}
{{- default (include "fedops.componentName" (dict "root" . "suffix" "fl-server")) .Values.provisioner.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.provisioner.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Namespace the provisioner creates FL servers in (the Role lives there). */}}
{{- define "fedops.provisionerNamespace" -}}
{{- default .Release.Namespace .Values.provisioner.namespace }}
{{- end }}

{{- define "fedops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "fedops.postgresql.image" -}}
{{- with .Values.database.bundled.image }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{/* Secret and key holding the admin token. */}}
{{- define "fedops.authSecretName" -}}
{{- default (include "fedops.componentName" (dict "root" . "suffix" "auth")) .Values.auth.existingSecret }}
{{- end }}

{{- define "fedops.authSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}admin-token{{ end }}
{{- end }}

{{/* Secret and key holding FEDOPS_DATABASE_URL. */}}
{{- define "fedops.databaseSecretName" -}}
{{- if .Values.database.bundled.enabled }}
{{- include "fedops.componentName" (dict "root" . "suffix" "postgresql") }}
{{- else }}
{{- .Values.database.external.existingSecret }}
{{- end }}
{{- end }}

{{- define "fedops.databaseSecretKey" -}}
{{- if .Values.database.bundled.enabled }}url{{ else }}{{ .Values.database.external.existingSecretKey }}{{ end }}
{{- end }}

{{/*
Generated credentials as JSON: {"adminToken": ..., "postgresPassword": ...}. On upgrades
they are read back from the release's Secrets (lookup), so they never change; on a first
install (and with `helm template`, where lookup finds nothing) they are random. They are
computed once per render and kept in .Values so the Secrets and the checksum annotations
of the pods see the same values.
*/}}
{{- define "fedops.generatedCredentials" -}}
{{- if not (hasKey .Values "_generatedCredentials") }}
{{- $token := "" }}
{{- $password := "" }}
{{- $auth := lookup "v1" "Secret" .Release.Namespace (include "fedops.componentName" (dict "root" . "suffix" "auth")) }}
{{- if and $auth $auth.data (hasKey $auth.data "admin-token") }}
{{- $token = index $auth.data "admin-token" | b64dec }}
{{- else }}
{{- $token = randAlphaNum 48 }}
{{- end }}
{{- $pg := lookup "v1" "Secret" .Release.Namespace (include "fedops.componentName" (dict "root" . "suffix" "postgresql")) }}
{{- if and $pg $pg.data (hasKey $pg.data "password") }}
{{- $password = index $pg.data "password" | b64dec }}
{{- else }}
{{- $password = randAlphaNum 32 }}
{{- end }}
{{- $_ := set .Values "_generatedCredentials" (dict "adminToken" $token "postgresPassword" $password) }}
{{- end }}
{{- toJson .Values._generatedCredentials }}
{{- end }}

{{/* Settings that do not fit the values schema alone. */}}
{{- define "fedops.validate" -}}
{{- if and .Values.database.bundled.enabled .Values.database.external.existingSecret }}
{{- fail "database: set database.bundled.enabled=false to use database.external.existingSecret (both are set)" }}
{{- end }}
{{- if and (not .Values.database.bundled.enabled) (not .Values.database.external.existingSecret) }}
{{- fail "database: with database.bundled.enabled=false, database.external.existingSecret must name a Secret holding the database URL" }}
{{- end }}
{{- if and .Values.provisioner.supernodeAuth (not .Values.provisioner.fleetTlsSecret) }}
{{- fail "provisioner.supernodeAuth needs TLS: set provisioner.fleetTlsSecret" }}
{{- end }}
{{- if and (eq .Values.provisioner.serviceType "NodePort") (not .Values.provisioner.advertiseHost) (not .Values.provisioner.fleetAddress) }}
{{- fail "provisioner.serviceType=NodePort needs provisioner.advertiseHost: the host (a node's address or a name for the nodes) edge machines connect to" }}
{{- end }}
{{- if and (eq .Values.provisioner.serviceType "ClusterIP") (not .Values.provisioner.fleetAddress) }}
{{- fail "provisioner.serviceType=ClusterIP needs provisioner.fleetAddress (what routes edge traffic to each server's Service, e.g. {task_name}.fl.example.org:443): edge machines cannot resolve an in-cluster name; or choose LoadBalancer or NodePort" }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the pods running the services image. */}}
{{- define "fedops.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Scheduling of one component: (dict "values" .Values.registry). Empty maps and lists are
left out so the rendered objects stay minimal.
*/}}
{{- define "fedops.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Environment every services-image container gets: the database URL and the admin token
from their Secrets, migrations left to the Job, and a writable HOME (the root filesystem
is read-only; /tmp is an emptyDir).
*/}}
{{- define "fedops.commonEnv" -}}
- name: FEDOPS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "fedops.databaseSecretName" . }}
      key: {{ include "fedops.databaseSecretKey" . }}
- name: FEDOPS_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "fedops.authSecretName" . }}
      key: {{ include "fedops.authSecretKey" . }}
- name: HOME
  value: /tmp
{{- if .Values.ingress.enabled }}
# uvicorn believes X-Forwarded-Proto/-For from these peers: the session cookie is Secure
# when the Ingress was reached over https.
- name: FORWARDED_ALLOW_IPS
  value: {{ .Values.ingress.forwardedAllowIps | quote }}
{{- end }}
{{- end }}

{{/* checksum/* annotations: pods roll when the settings or the generated Secrets change. */}}
{{- define "fedops.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}

{{- define "fedops.probe" -}}
httpGet:
  path: {{ .path }}
  port: http
initialDelaySeconds: {{ .probe.initialDelaySeconds }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end }}
