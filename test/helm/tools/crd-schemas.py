# Writes test/helm/crd-schemas/<group>/<kind>_<version>.json: minimal strict schemas for the CRDs the chart renders
# (fields of the Strimzi, KEDA and Prometheus Operator CRDs; unknown fields rejected), for kubeconform -strict.
#   cd test/helm/crd-schemas && python3 ../tools/crd-schemas.py
import json, os
STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
DURATION = {"type": "string", "pattern": "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
META = {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
    "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
    "namespace": STR, "labels": STR_MAP, "annotations": STR_MAP}}
LABEL_SELECTOR = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": STR_MAP,
    "matchExpressions": {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["key", "operator"], "properties": {
        "key": STR, "operator": STR, "values": {"type": "array", "items": STR}}}}}}
OPEN_OBJ = {"type": "object"}

def resource(api_version, kind, spec, spec_required):
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": False,
            "required": ["apiVersion", "kind", "metadata", "spec"], "properties": {
                "apiVersion": {"type": "string", "enum": [api_version]}, "kind": {"type": "string", "enum": [kind]},
                "metadata": META,
                "spec": {"type": "object", "additionalProperties": False, "required": spec_required, "properties": spec}}}

schemas = {}
# Strimzi KafkaTopic (kafka.strimzi.io/v1beta2 and v1): spec.topicName, partitions, replicas, config.
for version in ("v1beta2", "v1"):
    schemas[("kafka.strimzi.io", "kafkatopic", version)] = resource(f"kafka.strimzi.io/{version}", "KafkaTopic", {
        "topicName": STR,
        "partitions": {"type": "integer", "minimum": 1},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
        "config": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "array"]}}},
        ["partitions", "replicas"])
# KEDA ScaledObject (keda.sh/v1alpha1). Trigger metadata values must be strings.
schemas[("keda.sh", "scaledobject", "v1alpha1")] = resource("keda.sh/v1alpha1", "ScaledObject", {
    "scaleTargetRef": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
        "apiVersion": STR, "kind": STR, "name": STR, "envSourceContainerName": STR}},
    "pollingInterval": {"type": "integer", "minimum": 1}, "cooldownPeriod": {"type": "integer", "minimum": 0},
    "initialCooldownPeriod": INT, "idleReplicaCount": INT,
    "minReplicaCount": {"type": "integer", "minimum": 0}, "maxReplicaCount": {"type": "integer", "minimum": 1},
    "advanced": OPEN_OBJ, "fallback": OPEN_OBJ,
    "triggers": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": False, "required": ["type", "metadata"], "properties": {
        "type": STR, "name": STR, "metricType": {"type": "string", "enum": ["AverageValue", "Value", "Utilization"]},
        "useCachedMetrics": BOOL, "metadata": STR_MAP,
        "authenticationRef": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
            "name": STR, "kind": {"type": "string", "enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"]}}}}}}},
    ["scaleTargetRef", "triggers"])
# Prometheus Operator ServiceMonitor (monitoring.coreos.com/v1).
endpoint = {"type": "object", "additionalProperties": False, "properties": {k: v for k, v in {
    "port": STR, "targetPort": {"type": ["integer", "string"]}, "path": STR, "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
    "interval": DURATION, "scrapeTimeout": DURATION, "honorLabels": BOOL, "honorTimestamps": BOOL,
    "trackTimestampsStaleness": BOOL, "followRedirects": BOOL, "enableHttp2": BOOL, "filterRunning": BOOL,
    "params": {"type": "object", "additionalProperties": {"type": "array", "items": STR}},
    "relabelings": {"type": "array", "items": OPEN_OBJ}, "metricRelabelings": {"type": "array", "items": OPEN_OBJ},
    "tlsConfig": OPEN_OBJ, "authorization": OPEN_OBJ, "basicAuth": OPEN_OBJ, "oauth2": OPEN_OBJ,
    "bearerTokenSecret": OPEN_OBJ, "proxyUrl": STR}.items()}}
schemas[("monitoring.coreos.com", "servicemonitor", "v1")] = resource("monitoring.coreos.com/v1", "ServiceMonitor", {
    "endpoints": {"type": "array", "items": endpoint},
    "selector": LABEL_SELECTOR,
    "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {"any": BOOL, "matchNames": {"type": "array", "items": STR}}},
    "jobLabel": STR, "targetLabels": {"type": "array", "items": STR}, "podTargetLabels": {"type": "array", "items": STR},
    "sampleLimit": INT, "targetLimit": INT, "labelLimit": INT, "labelNameLengthLimit": INT, "labelValueLengthLimit": INT,
    "keepDroppedTargets": INT, "attachMetadata": OPEN_OBJ, "scrapeClass": STR, "scrapeProtocols": {"type": "array", "items": STR},
    "bodySizeLimit": STR, "selectMechanism": STR, "serviceDiscoveryRole": STR},
    ["selector"])

for (group, kind, version), schema in schemas.items():
    os.makedirs(group, exist_ok=True)
    with open(f"{group}/{kind}_{version}.json", "w") as f:
        f.write(json.dumps(schema, indent=2) + "\n")
