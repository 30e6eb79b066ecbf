{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "zoom-pipeline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name, the prefix of every resource (leaves room for a component suffix). */}}
{{- define "zoom-pipeline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's resources: (dict "root" $ "component" "ingress"). */}}
{{- define "zoom-pipeline.componentName" -}}
{{- printf "%s-%s" (include "zoom-pipeline.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "zoom-pipeline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "zoom-pipeline.labels" -}}
helm.sh/chart: {{ include "zoom-pipeline.chart" . }}
{{ include "zoom-pipeline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: zoom-pipeline
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "zoom-pipeline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "zoom-pipeline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* (dict "root" $ "component" "ingress") */}}
{{- define "zoom-pipeline.componentLabels" -}}
{{ include "zoom-pipeline.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "zoom-pipeline.componentSelectorLabels" -}}
{{ include "zoom-pipeline.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* metadata.annotations from commonAnnotations (plus extra), or nothing. */}}
{{- define "zoom-pipeline.annotations" -}}
{{- $all := merge (dict) (.extra | default dict) (.root.Values.commonAnnotations | default dict) -}}
{{- with $all -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "zoom-pipeline.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "zoom-pipeline.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret the pods read: existingSecret, else the chart-created one. */}}
{{- define "zoom-pipeline.secretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- printf "%s-secret" (include "zoom-pipeline.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "zoom-pipeline.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Kafka topic names, fixed by the apps (libs/contracts/src/topics.ts), by values key. */}}
{{- define "zoom-pipeline.topicNames" -}}
raw: zoom.webhooks.raw
events: zoom.events
duplicates: zoom.webhooks.duplicates
files: zoom.recording.files
uploaded: zoom.recording.uploaded
failed: zoom.recording.failed
dead: zoom.webhooks.dead
accountLinks: zoom.accounts.links
rtmsTranscripts: zoom.rtms.transcripts
rtmsChat: zoom.rtms.chat
attendanceSessions: zoom.attendance.sessions
attendanceMeetings: zoom.attendance.meetings
attendanceState: zoom.attendance.state
{{- end -}}

{{/* What each consumer reads, for KEDA and the checks: group and topic key. */}}
{{- define "zoom-pipeline.consumers" -}}
dedup:
  group: zoom-pipeline-dedup
  topicKey: raw
uploader:
  group: zoom-pipeline-uploader
  topicKey: files
{{- end -}}

{{/* The accounts keys: read by accounts, and by dedup and the uploader (routing, linked users' tokens) when enabled. */}}
{{- define "zoom-pipeline.accountsSecretKeys" -}}
ACCOUNTS_ENCRYPTION_KEY: required
ACCOUNTS_ENCRYPTION_KEYS: optional
ACCOUNTS_API_TOKEN: required
ZOOM_OAUTH_CLIENT_ID: required
ZOOM_OAUTH_CLIENT_SECRET: required
{{- end -}}

{{/* Secret keys each component reads: name → optional. REDIS_URL is added separately (see secretEnv). */}}
{{- define "zoom-pipeline.secretKeys" -}}
ingress:
  ZOOM_WEBHOOK_SECRET_TOKEN: webhook
dedup:
  {{- if .Values.accounts.enabled }}
  {{- include "zoom-pipeline.accountsSecretKeys" . | nindent 2 }}
  {{- else }} {}
  {{- end }}
attendance:
  # Bearer token of the product's backend; without it only loopback clients (kubectl port-forward) get an answer.
  ATTENDANCE_API_TOKEN: optional
  # POST /attendance/registrations (Zoom's registrants API)
  ZOOM_ACCOUNT_ID: optional
  ZOOM_CLIENT_ID: optional
  ZOOM_CLIENT_SECRET: optional
uploader:
  ZOOM_ACCOUNT_ID: optional
  ZOOM_CLIENT_ID: optional
  ZOOM_CLIENT_SECRET: optional
  AWS_ACCESS_KEY_ID: optional
  AWS_SECRET_ACCESS_KEY: optional
  {{- if .Values.accounts.enabled }}
  {{- include "zoom-pipeline.accountsSecretKeys" . | nindent 2 }}
  {{- end }}
accounts:
  {{- include "zoom-pipeline.accountsSecretKeys" . | nindent 2 }}
rtms:
  RTMS_CLIENT_ID: optional
  RTMS_CLIENT_SECRET: optional
  ZOOM_ACCOUNT_ID: optional
  ZOOM_CLIENT_ID: optional
  ZOOM_CLIENT_SECRET: optional
  AWS_ACCESS_KEY_ID: optional
  AWS_SECRET_ACCESS_KEY: optional
reconciler:
  ZOOM_ACCOUNT_ID: optional
  ZOOM_CLIENT_ID: optional
  ZOOM_CLIENT_SECRET: optional
  AWS_ACCESS_KEY_ID: optional
  AWS_SECRET_ACCESS_KEY: optional
{{- end -}}

{{/* True ("true") when some extraSecretEnv entry carries a per-app webhook token for ingress. */}}
{{- define "zoom-pipeline.hasPerAppTokens" -}}
{{- $found := false -}}
{{- range .Values.extraSecretEnv -}}
{{- if and (hasPrefix "ZOOM_WEBHOOK_SECRET_TOKEN_" .name) (or (not .components) (has "ingress" .components)) -}}
{{- $found = true -}}
{{- end -}}
{{- end -}}
{{- if $found }}true{{ end -}}
{{- end -}}

{{/*
Container env from Secrets for one component: (dict "root" $ "component" "uploader").
Only Secret references here; values never appear in the manifest.
*/}}
{{- define "zoom-pipeline.secretEnv" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $secretName := include "zoom-pipeline.secretName" $root -}}
{{- $keys := get (include "zoom-pipeline.secretKeys" $root | fromYaml) $component -}}
{{- range $name, $kind := $keys }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: {{ $name }}
      {{- if eq $kind "optional" }}
      optional: true
      {{- else if eq $kind "webhook" }}
      optional: {{ include "zoom-pipeline.hasPerAppTokens" $root | eq "true" }}
      {{- end }}
{{- end }}
{{- if and (has $component (list "dedup" "uploader" "accounts" "rtms" "reconciler" "attendance")) (not $root.Values.redis.url) }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $secretName }}
      key: REDIS_URL
{{- end }}
{{- range $root.Values.extraSecretEnv }}
{{- if or (not .components) (has $component .components) }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ default $secretName .secretName }}
      key: {{ default .name .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The pod spec shared by the Deployments: (dict "root" $ "component" "dedup").
Component values: .root.Values.<component>.
*/}}
{{- define "zoom-pipeline.podTemplate" -}}
{{- $root := .root -}}
{{- $component := .component -}}
{{- $values := index $root.Values $component -}}
metadata:
  labels:
    {{- include "zoom-pipeline.componentLabels" . | nindent 4 }}
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    {{- if $root.Values.secret.create }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- end }}
    {{- with $values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "zoom-pipeline.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountServiceAccountToken }}
  terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
  {{- with $root.Values.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- with $values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ $component }}
      image: {{ include "zoom-pipeline.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        {{- toYaml $values.args | nindent 8 }}
      ports:
        - name: http
          containerPort: 8080
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "zoom-pipeline.fullname" $root }}-env
        - configMapRef:
            name: {{ include "zoom-pipeline.componentName" . }}-env
      {{- $secretEnv := include "zoom-pipeline.secretEnv" . }}
      {{- if trim $secretEnv }}
      env:
        {{- trim $secretEnv | nindent 8 }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        {{- toYaml $values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        {{- toYaml $values.readinessProbe | nindent 8 }}
      resources:
        {{- toYaml $values.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        {{- with $root.Values.tmpVolume.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
  {{- with $values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    - {{- toYaml (omit . "labelSelector") | nindent 6 }}
      labelSelector:
        matchLabels:
          {{- include "zoom-pipeline.componentSelectorLabels" $ | nindent 10 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* HorizontalPodAutoscaler on CPU: (dict "root" $ "component" "dedup"). */}}
{{- define "zoom-pipeline.hpa" -}}
{{- $values := index .root.Values .component -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "zoom-pipeline.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "zoom-pipeline.componentLabels" . | nindent 4 }}
  {{- with include "zoom-pipeline.annotations" (dict "root" .root) }}{{ . | nindent 2 }}{{- end }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "zoom-pipeline.componentName" . }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}

{{/* PodDisruptionBudget: (dict "root" $ "component" "dedup"). */}}
{{- define "zoom-pipeline.pdb" -}}
{{- $values := index .root.Values .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "zoom-pipeline.componentName" . }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "zoom-pipeline.componentLabels" . | nindent 4 }}
  {{- with include "zoom-pipeline.annotations" (dict "root" .root) }}{{ . | nindent 2 }}{{- end }}
spec:
  {{- if not (eq (toString $values.pdb.minAvailable) "") }}
  minAvailable: {{ $values.pdb.minAvailable }}
  {{- end }}
  {{- if not (eq (toString $values.pdb.maxUnavailable) "") }}
  maxUnavailable: {{ $values.pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "zoom-pipeline.componentSelectorLabels" . | nindent 6 }}
{{- end -}}

{{/* KEDA ScaledObject on the consumer lag of the component's group: (dict "root" $ "component" "dedup"). */}}
{{- define "zoom-pipeline.scaledObject" -}}
{{- $root := .root -}}
{{- $values := index $root.Values .component -}}
{{- $consumer := get (include "zoom-pipeline.consumers" $root | fromYaml) .component -}}
{{- $topic := get (include "zoom-pipeline.topicNames" $root | fromYaml) $consumer.topicKey -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ include "zoom-pipeline.componentName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "zoom-pipeline.componentLabels" . | nindent 4 }}
  {{- with include "zoom-pipeline.annotations" (dict "root" $root) }}{{ . | nindent 2 }}{{- end }}
spec:
  scaleTargetRef:
    name: {{ include "zoom-pipeline.componentName" . }}
  minReplicaCount: {{ $values.autoscaling.minReplicas }}
  maxReplicaCount: {{ $values.autoscaling.maxReplicas }}
  pollingInterval: {{ $root.Values.keda.pollingInterval }}
  cooldownPeriod: {{ $root.Values.keda.cooldownPeriod }}
  triggers:
    - type: kafka
      metadata:
        bootstrapServers: {{ join "," $root.Values.kafka.brokers | quote }}
        consumerGroup: {{ $consumer.group }}
        topic: {{ $topic }}
        lagThreshold: {{ $values.autoscaling.lagThreshold | quote }}
        activationLagThreshold: {{ $values.autoscaling.activationLagThreshold | default 0 | quote }}
        offsetResetPolicy: {{ $root.Values.keda.offsetResetPolicy }}
        allowIdleConsumers: "false"
      {{- with $root.Values.keda.authenticationRef }}
      authenticationRef:
        name: {{ . }}
      {{- end }}
{{- end -}}
