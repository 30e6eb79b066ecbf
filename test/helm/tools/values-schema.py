# Generates deploy/helm/zoom-pipeline/values.schema.json from values.yaml (types, `## @param` descriptions) plus the
# overrides below (enums, patterns, free-form maps). Strict: unknown keys are rejected except in free-form maps.
#   "$PYTHON" test/helm/tools/values-schema.py deploy/helm/zoom-pipeline [OUT]   (PYTHON from scripts/helm-tools.sh)
import json, re, sys, yaml
chart = sys.argv[1]
text = open(f"{chart}/values.yaml").read()
values = yaml.safe_load(text)
docs = dict(re.findall(r"^\s*## @param (\S+) (.*)$", text, re.M))

ANY_MAP = {"type": "object"}
STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
ENV_MAP = {"type": "object", "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
           "additionalProperties": {"type": ["string", "number", "boolean"]}}
OBJ_LIST = {"type": "array", "items": {"type": "object"}}
QUANTITY = {"type": ["string", "number"]}
RESOURCES = {"type": "object", "additionalProperties": False, "properties": {
    k: {"type": "object", "additionalProperties": QUANTITY} for k in ("requests", "limits")}}
PROBE = {"type": "object", "additionalProperties": False, "properties": {
    k: {"type": "integer", "minimum": 0} for k in
    ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold", "terminationGracePeriodSeconds")}}
DURATION = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$"}
SIZE = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?([KMG]i?B?|B)?$"}
PDB_VALUE = {"type": ["integer", "string"], "pattern": r"^([0-9]+%?)?$", "minimum": 0}
NULLABLE_POS_INT = {"type": ["integer", "null"], "minimum": 0}

overrides = {
    "commonLabels": STR_MAP, "commonAnnotations": STR_MAP,
    "image.pullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
    "image.pullSecrets": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "image.digest": {"type": "string", "pattern": r"^(sha256:[a-f0-9]{64})?$"},
    "secret.extra": {"type": "object", "propertyNames": {"pattern": r"^[-._a-zA-Z0-9]+$"}, "additionalProperties": {"type": "string"}},
    "extraSecretEnv": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "description": "Environment variable name"},
        "key": {"type": "string", "description": "Key in the Secret (default: name)"},
        "secretName": {"type": "string", "description": "Secret name (default: existingSecret or the created Secret)"},
        "optional": {"type": "boolean", "description": "Start the pod when the key is missing"},
        "components": {"type": "array", "items": {"type": "string", "enum": ["ingress", "dedup", "uploader", "rtms"]}, "description": "Components that get it (default: all)"}}}},
    "kafka.brokers": {"type": "array", "items": {"type": "string", "pattern": r"^[^\s,:]+:[0-9]{1,5}$"}},
    "kafka.client": {"type": "string", "enum": ["platformatic", "kafkajs"]},
    "kafka.publishClient": {"type": "string", "enum": ["platformatic", "kafkajs"]},
    "redis.url": {"type": "string", "pattern": r"^(rediss?://.*)?$"},
    "config.logLevel": {"type": "string", "enum": ["fatal", "error", "warn", "info", "debug", "trace", "silent"]},
    "config.dedupWindow": DURATION, "config.signatureTolerance": DURATION,
    "env": ENV_MAP,
    "ingress.shutdownDelay": DURATION, "ingress.ackDeadline": DURATION, "ingress.maxBodyBytes": SIZE,
    "uploader.leaseTtl": DURATION, "uploader.retryBudget": DURATION, "uploader.retryMaxDelay": DURATION,
    "uploader.concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
    "uploader.downloadMaxAttempts": {"type": "integer", "minimum": 1, "maximum": 20},
    "s3.partSize": SIZE, "s3.queueSize": {"type": "integer", "minimum": 1, "maximum": 64},
    "ingress.service.type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "ingress.service.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "ingress.service.annotations": STR_MAP, "ingress.ingress.annotations": STR_MAP,
    "ingress.ingress.hosts": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["paths"], "properties": {
        "host": {"type": "string"},
        "paths": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "required": ["path"], "properties": {
            "path": {"type": "string", "pattern": "^/"},
            "pathType": {"type": "string", "enum": ["Prefix", "Exact", "ImplementationSpecific"]}}}}}}},
    "ingress.ingress.tls": {"type": "array", "items": {"type": "object", "additionalProperties": False, "properties": {
        "secretName": {"type": "string"}, "hosts": {"type": "array", "items": {"type": "string"}}}}},
    "serviceAccount.annotations": STR_MAP,
    "podSecurityContext": ANY_MAP, "containerSecurityContext": ANY_MAP,
    "tmpVolume.sizeLimit": QUANTITY,
    "networkPolicy.ingressFrom": OBJ_LIST, "networkPolicy.metricsFrom": OBJ_LIST, "networkPolicy.egress.to": OBJ_LIST,
    "keda.offsetResetPolicy": {"type": "string", "enum": ["earliest", "latest"]},
    "keda.pollingInterval": {"type": "integer", "minimum": 1}, "keda.cooldownPeriod": {"type": "integer", "minimum": 0},
    "kafkaTopics.config": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
    "kafkaTopics.replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
    "kafkaTopics.minInsyncReplicas": {"type": "integer", "minimum": 1},
    "serviceMonitor.labels": STR_MAP,
    "serviceMonitor.interval": DURATION, "serviceMonitor.scrapeTimeout": DURATION,
    "tests.resources": RESOURCES,
}
# Accounts: a Deployment without autoscaling or a PDB.
overrides.update({
    "accounts.args": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    "accounts.replicaCount": {"type": "integer", "minimum": 0},
    "accounts.terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
    "accounts.env": ENV_MAP, "accounts.resources": RESOURCES,
    "accounts.livenessProbe": PROBE, "accounts.readinessProbe": PROBE,
    "accounts.podAnnotations": STR_MAP, "accounts.podLabels": STR_MAP, "accounts.nodeSelector": STR_MAP,
    "accounts.tolerations": OBJ_LIST, "accounts.affinity": ANY_MAP, "accounts.topologySpreadConstraints": OBJ_LIST,
    "accounts.linkTtl": DURATION,
    "accounts.service.type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "accounts.service.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "accounts.service.annotations": STR_MAP,
    "attendance.env": ENV_MAP,
})
for c in ("ingress", "dedup", "uploader"):
    overrides.update({
        f"{c}.args": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        f"{c}.replicaCount": {"type": "integer", "minimum": 0},
        f"{c}.terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
        f"{c}.env": ENV_MAP, f"{c}.resources": RESOURCES,
        f"{c}.livenessProbe": PROBE, f"{c}.readinessProbe": PROBE,
        f"{c}.podAnnotations": STR_MAP, f"{c}.podLabels": STR_MAP, f"{c}.nodeSelector": STR_MAP,
        f"{c}.tolerations": OBJ_LIST, f"{c}.affinity": ANY_MAP, f"{c}.topologySpreadConstraints": OBJ_LIST,
        f"{c}.autoscaling.minReplicas": {"type": "integer", "minimum": 1},
        f"{c}.autoscaling.maxReplicas": {"type": "integer", "minimum": 1},
        f"{c}.autoscaling.targetCPUUtilizationPercentage": {"type": "integer", "minimum": 1, "maximum": 100},
        f"{c}.pdb.minAvailable": PDB_VALUE, f"{c}.pdb.maxUnavailable": PDB_VALUE,
    })
overrides.update({
    "rtms.args": {"type": "array", "minItems": 1, "items": {"type": "string"}},
    "rtms.replicaCount": {"type": "integer", "minimum": 0},
    "rtms.terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
    "rtms.env": ENV_MAP, "rtms.resources": RESOURCES,
    "rtms.livenessProbe": PROBE, "rtms.readinessProbe": PROBE,
    "rtms.podAnnotations": STR_MAP, "rtms.podLabels": STR_MAP, "rtms.nodeSelector": STR_MAP,
    "rtms.tolerations": OBJ_LIST, "rtms.affinity": ANY_MAP, "rtms.topologySpreadConstraints": OBJ_LIST,
    "rtms.pdb.minAvailable": PDB_VALUE, "rtms.pdb.maxUnavailable": PDB_VALUE,
    "rtms.media": {"type": "string", "pattern": r"^(audio|transcript|chat)(,(audio|transcript|chat))*$"},
    "rtms.leaseTtl": DURATION, "rtms.audioSegment": DURATION, "rtms.reconnectMaxDelay": DURATION, "rtms.maxStreamAge": DURATION,
})
for c in ("dedup", "uploader"):
    overrides[f"{c}.autoscaling.lagThreshold"] = NULLABLE_POS_INT
    overrides[f"{c}.autoscaling.activationLagThreshold"] = NULLABLE_POS_INT
for t in values["kafkaTopics"]["topics"]:
    overrides[f"kafkaTopics.topics.{t}.partitions"] = {"type": "integer", "minimum": 1}
    overrides[f"kafkaTopics.topics.{t}.retentionMs"] = {"type": "integer", "minimum": -1}

used = set()
def node(path, value):
    if path in overrides:
        used.add(path)
        s = dict(overrides[path])
    elif isinstance(value, dict):
        s = {"type": "object", "additionalProperties": False,
             "properties": {k: node(f"{path}.{k}" if path else k, v) for k, v in value.items()}}
    elif isinstance(value, bool):
        s = {"type": "boolean"}
    elif isinstance(value, int):
        s = {"type": "integer"}
    elif isinstance(value, str):
        s = {"type": "string"}
    elif isinstance(value, list):
        s = {"type": "array"}
    else:
        raise SystemExit(f"no type for {path}")
    if path in docs:
        s = {"description": docs[path], **s}
    return s

schema = {"$schema": "http://json-schema.org/draft-07/schema#", "title": "zoom-pipeline chart values", **node("", values)}
missing = set(overrides) - used
if missing: raise SystemExit(f"unused overrides: {sorted(missing)}")
open(sys.argv[2] if len(sys.argv) > 2 else f"{chart}/values.schema.json", "w").write(json.dumps(schema, indent=2) + "\n")
