{{/* Names, labels and the shared bits of the costwarden chart. */}}

{{- define "costwarden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "costwarden.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "costwarden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "costwarden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "costwarden.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "costwarden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "costwarden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "costwarden.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "costwarden.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding tls.crt and tls.key, whichever source fills it. */}}
{{- define "costwarden.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "costwarden.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{- define "costwarden.certificateName" -}}
{{- printf "%s-serving" (include "costwarden.fullname" .) -}}
{{- end -}}

{{/* DNS name the API server calls: <service>.<namespace>.svc */}}
{{- define "costwarden.serviceHost" -}}
{{- printf "%s.%s.svc" (include "costwarden.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Policy files the chart puts in its ConfigMap: {key: text}. */}}
{{- define "costwarden.policyFiles" -}}
{{- $files := dict -}}
{{- if .Values.policies.fromChart -}}
{{- range $path, $_ := .Files.Glob "files/policies/*.{yaml,yml}" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- end -}}
{{- range $key, $text := .Values.policies.files -}}
{{- $_ := set $files $key $text -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/* Catalog files the chart puts in its ConfigMap: {key: text}. */}}
{{- define "costwarden.catalogFiles" -}}
{{- $files := dict -}}
{{- if .Values.catalog.fromChart -}}
{{- range $path, $_ := .Files.Glob "files/catalog/*.{yaml,yml}" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- end -}}
{{- range $key, $text := .Values.catalog.files -}}
{{- $_ := set $files $key $text -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/* ConfigMap the policies are mounted from, or "" when the bundled policies are used. */}}
{{- define "costwarden.policiesConfigMap" -}}
{{- if .Values.policies.existingConfigMap -}}
{{- .Values.policies.existingConfigMap -}}
{{- else if include "costwarden.policyFiles" . | fromJson -}}
{{- printf "%s-policies" (include "costwarden.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "costwarden.catalogConfigMap" -}}
{{- if .Values.catalog.existingConfigMap -}}
{{- .Values.catalog.existingConfigMap -}}
{{- else if include "costwarden.catalogFiles" . | fromJson -}}
{{- printf "%s-catalog" (include "costwarden.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Namespaces never sent to the webhook: kube-system, the release namespace (the webhook must
never block its own recovery) and any listed in webhook.exemptNamespaces; plus namespaces
carrying the opt-out label. Shared by both webhooks.
*/}}
{{- define "costwarden.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range (concat (list "kube-system" .Release.Namespace) .Values.webhook.exemptNamespaces | uniq) }}
      - {{ . | quote }}
      {{- end }}
  - key: {{ .Values.webhook.optOutLabel | quote }}
    operator: NotIn
    values: ["true"]
{{- with .Values.webhook.optInLabel }}
  - key: {{ . | quote }}
    operator: In
    values: ["true"]
{{- end }}
{{- end -}}

{{- define "costwarden.matchConditions" -}}
{{- if .Values.webhook.skipUnchangedUpdates -}}
matchConditions:
  # A terminating object is on its way out; finalizer removal must never be blocked.
  - name: not-being-deleted
    expression: "!has(object.metadata.deletionTimestamp)"
  # Pods and templates are checked when their spec or labels change; annotation,
  # finalizer, ownerReference and managedFields churn changes no verdict.
  - name: spec-or-labels-changed
    expression: >-
      request.operation != 'UPDATE'
      || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec
      || has(object.metadata.labels) != has(oldObject.metadata.labels)
      || (has(object.metadata.labels) && object.metadata.labels != oldObject.metadata.labels)
{{- end }}
{{- end -}}
