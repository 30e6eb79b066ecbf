// The Helm chart (deploy/helm/zoom-pipeline), offline: lint, render, strict schema validation, and the promises the
// chart makes (probes, non-root read-only pods, no secret in a ConfigMap, topics and consumer groups that match the
// code, refusals of impossible values), plus the `helm test` script run against a real ingress process.
// Tools come from scripts/helm-tools.sh (pinned, cached outside the repo; a cold cache builds helm: minutes).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_PARTITIONS, TOPICS } from '@zoom-pipeline/contracts';
import { DEDUP_GROUP_ID, RAW_DEAD_LETTER_TOPIC } from '@zoom-pipeline/dedup-feature';
import { UPLOADER_GROUP_ID } from '@zoom-pipeline/uploader-feature';
import { type AppProcess, loadEndpoints, startApp } from '@zoom-pipeline/test-support';

const repoRoot = resolve(__dirname, '../..');
const chartDir = join(repoRoot, 'deploy/helm/zoom-pipeline');
const ciValues = (name: string): string => join(chartDir, 'ci', `${name}-values.yaml`);
const exampleValues = (name: string): string => join(repoRoot, 'deploy/helm/examples', `values-${name}.yaml`);
const crdSchemas = join(__dirname, 'crd-schemas');
const KUBE_VERSION = '1.33.0';
const COMPONENTS = ['ingress', 'dedup', 'uploader'] as const;
const BUILT_IN_KINDS = [
  'ConfigMap',
  'Secret',
  'Service',
  'ServiceAccount',
  'Deployment',
  'Pod',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'Ingress',
  'NetworkPolicy',
];
const CRD_KINDS = ['KafkaTopic', 'ScaledObject', 'ServiceMonitor'];

// Secret values of ci/full-values.yaml: none of them may appear in a ConfigMap or a plain env value.
const FULL_SECRETS = [
  'ci-webhook-token-current',
  'ci-webhook-token-previous',
  'ci-account-id',
  'ci-client-id',
  'ci-client-secret',
  'ci-aws-access-key-id',
  'ci-aws-secret-access-key',
  'ci-redis-password',
  'ci-sales-eu-token',
  'Y2ktYWNjb3VudHMta2V5LTMyLWJ5dGVzLWxvbmctISE=',
  'ci-accounts-api-token',
  'ci-oauth-client-id',
  'ci-oauth-client-secret',
  'ci-attendance-api-token',
];

jest.setTimeout(60_000);

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes manifests are checked field by field below. */
type Manifest = Record<string, any>;

interface Tools {
  HELM: string;
  KUBECONFORM: string;
  KUBE_VALIDATE: string;
  PYTHON: string;
  KUBE_SCHEMAS: string;
}

let tools: Tools;
let work: string;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Run {
  const result = spawnSync(command, args, {
    cwd: repoRoot,
    input: options.input,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: options.timeoutMs ?? 60_000,
  });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** helm with its config, cache and data dirs in a scratch dir: no user repositories, plugins or network. */
function helm(args: string[]): Run {
  return run(tools.HELM, args, {
    env: {
      ...process.env,
      HELM_CONFIG_HOME: join(work, 'helm/config'),
      HELM_CACHE_HOME: join(work, 'helm/cache'),
      HELM_DATA_HOME: join(work, 'helm/data'),
    },
  });
}

function templateArgs(valuesFiles: string[], set: string[]): string[] {
  return [
    'template',
    'zp',
    chartDir,
    '--namespace',
    'zoom',
    '--kube-version',
    KUBE_VERSION,
    ...valuesFiles.flatMap((f) => ['-f', f]),
    ...set.flatMap((s) => ['--set', s]),
  ];
}

/** `helm template` output; throws with helm's message when it fails. */
function renderYaml(valuesFiles: string[], set: string[] = []): string {
  const out = helm(templateArgs(valuesFiles, set));
  if (out.status !== 0) throw new Error(`helm template failed:\n${out.stderr}`);
  return out.stdout;
}

/** The rendered documents as objects (PyYAML from the tools venv: no YAML parser in node_modules). */
function parseYaml(yamlText: string): Manifest[] {
  const out = run(
    tools.PYTHON,
    ['-c', 'import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(sys.stdin) if d]))'],
    { input: yamlText },
  );
  if (out.status !== 0) throw new Error(`cannot parse the rendered YAML:\n${out.stderr}`);
  return JSON.parse(out.stdout) as Manifest[];
}

function render(valuesFiles: string[], set: string[] = []): Manifest[] {
  return parseYaml(renderYaml(valuesFiles, set));
}

/** helm template's error for values that must be refused. */
function refusal(valuesFiles: string[], set: string[]): string {
  const out = helm(templateArgs(valuesFiles, set));
  if (out.status === 0) throw new Error(`helm template accepted --set ${set.join(' --set ')}`);
  return out.stderr;
}

const ofKind = (docs: Manifest[], kind: string): Manifest[] => docs.filter((d) => d.kind === kind);
const named = (docs: Manifest[], kind: string, component: string): Manifest => {
  const found = docs.find((d) => d.kind === kind && d.metadata.labels?.['app.kubernetes.io/component'] === component);
  if (!found) throw new Error(`no ${kind} for ${component}`);
  return found;
};
const configMapData = (docs: Manifest[]): Record<string, string> =>
  Object.assign({}, ...ofKind(docs, 'ConfigMap').map((c) => c.data as Record<string, string>)) as Record<
    string,
    string
  >;

interface ValidationOutcome {
  ok: boolean;
  report: string;
  crdValid: number;
}

/**
 * Strict offline validation: built-in kinds with kubernetes-validate (Kubernetes JSON schemas bundled in its wheel,
 * unknown fields rejected), CRDs with kubeconform -strict and the hand-written schemas in crd-schemas/.
 */
function validate(yamlText: string, name: string): ValidationOutcome {
  const file = join(work, `${name}.yaml`);
  writeFileSync(file, yamlText);
  const builtIn = run(tools.KUBE_VALIDATE, ['--kubernetes-version', KUBE_VERSION, '--strict', '--quiet', file]);
  // Its only tolerated complaint: no schema for the CRDs (those are kubeconform's job below).
  const unexpected = builtIn.stdout
    .split('\n')
    .filter(
      (line) => line.trim() !== '' && !new RegExp(`Couldn't find schema for kind (${CRD_KINDS.join('|')}) `).test(line),
    );
  const crds = run(tools.KUBECONFORM, [
    '-strict',
    '-summary',
    '-output',
    'json',
    '-kubernetes-version',
    KUBE_VERSION,
    '-skip',
    BUILT_IN_KINDS.join(','),
    '-schema-location',
    `${crdSchemas}/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`,
    file,
  ]);
  let crdValid = 0;
  let crdProblems: number;
  try {
    const summary = (JSON.parse(crds.stdout) as { summary: { valid: number; invalid: number; errors: number } })
      .summary;
    crdValid = summary.valid;
    crdProblems = summary.invalid + summary.errors;
  } catch {
    crdProblems = 1;
  }
  const ok = builtIn.status === 0 && unexpected.length === 0 && crds.status === 0 && crdProblems === 0;
  return {
    ok,
    crdValid,
    report:
      `kubernetes-validate (exit ${builtIn.status}):\n${builtIn.stdout}${builtIn.stderr}\nkubeconform ` +
      `(exit ${crds.status}):\n${crds.stdout}${crds.stderr}`,
  };
}

beforeAll(() => {
  const install = run('bash', [join(repoRoot, 'scripts/helm-tools.sh')], { timeoutMs: 20 * 60_000 });
  if (install.status !== 0)
    throw new Error(`scripts/helm-tools.sh failed (exit ${install.status}):\n${install.stderr}`);
  const found: Record<string, string> = {};
  for (const line of install.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.+)$/.exec(line);
    if (m) found[m[1]] = m[2];
  }
  for (const key of ['HELM', 'KUBECONFORM', 'KUBE_VALIDATE', 'PYTHON', 'KUBE_SCHEMAS']) {
    if (!found[key]) throw new Error(`scripts/helm-tools.sh printed no ${key}=:\n${install.stdout}`);
  }
  tools = found as unknown as Tools;
  work = mkdtempSync(join(tmpdir(), 'zp-helm-'));
}, 20 * 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('helm lint --strict', () => {
  it.each([
    ['ci/minimal-values.yaml', ciValues('minimal')],
    ['ci/full-values.yaml', ciValues('full')],
    ['examples/values-strimzi-keda.yaml', exampleValues('strimzi-keda')],
    ['examples/values-plain.yaml', exampleValues('plain')],
  ])('passes with %s', (_name, file) => {
    const out = helm(['lint', '--strict', '--kube-version', KUBE_VERSION, chartDir, '-f', file]);
    expect({ status: out.status, output: out.stdout + out.stderr }).toEqual({
      status: 0,
      output: expect.stringContaining('0 chart(s) failed'),
    });
  });
});

describe('helm template', () => {
  it('renders only the core resources with the minimal values (every optional feature off)', () => {
    const kinds = render([ciValues('minimal')])
      .map((d) => `${d.kind}/${d.metadata.name}`)
      .sort();
    expect(kinds).toEqual([
      'ConfigMap/zp-zoom-pipeline-dedup-env',
      'ConfigMap/zp-zoom-pipeline-env',
      'ConfigMap/zp-zoom-pipeline-ingress-env',
      'ConfigMap/zp-zoom-pipeline-uploader-env',
      'Deployment/zp-zoom-pipeline-dedup',
      'Deployment/zp-zoom-pipeline-ingress',
      'Deployment/zp-zoom-pipeline-uploader',
      'Pod/zp-zoom-pipeline-test-send-delivery',
      'Service/zp-zoom-pipeline-ingress',
      'ServiceAccount/zp-zoom-pipeline',
    ]);
  });

  it('renders every optional feature with the full values', () => {
    const counts: Record<string, number> = {};
    for (const d of render([ciValues('full')])) counts[d.kind] = (counts[d.kind] ?? 0) + 1;
    expect(counts).toEqual({
      ConfigMap: 6,
      Deployment: 5, // ingress, dedup, uploader, accounts, rtms
      HorizontalPodAutoscaler: 1, // ingress on CPU; dedup and uploader scale through KEDA
      Ingress: 1,
      KafkaTopic: 13,
      NetworkPolicy: 5,
      Pod: 1,
      PodDisruptionBudget: 4,
      ScaledObject: 2,
      Secret: 1,
      Service: 5,
      ServiceAccount: 1,
      ServiceMonitor: 1,
    });
  });

  it('refuses the chart defaults alone: Kafka, a secret source and a bucket are required', () => {
    const message = refusal([], []);
    expect(message).toContain('kafka.brokers is empty');
    expect(message).toContain('no secret source');
    expect(message).toContain('s3.bucket is empty');
  });
});

describe('strict offline validation against the Kubernetes 1.33 schemas', () => {
  it.each([
    ['minimal', [ciValues('minimal')]],
    ['full', [ciValues('full')]],
    ['strimzi-keda', [exampleValues('strimzi-keda')]],
    ['plain', [exampleValues('plain')]],
  ])('%s rendering is valid', (name, files) => {
    const outcome = validate(renderYaml(files), name);
    if (!outcome.ok) throw new Error(outcome.report);
  });

  it('validates the CRDs too (KafkaTopic, ScaledObject, ServiceMonitor)', () => {
    expect(validate(renderYaml([ciValues('full')]), 'full-crds').crdValid).toBe(13 + 2 + 1);
  });

  it('really is strict: an unknown field fails in a built-in kind and in a CRD', () => {
    const yamlText = renderYaml([ciValues('full')]);
    const typoInPod = yamlText.replace(/^(\s+)readinessProbe:/m, '$1readinesProbe:');
    expect(validate(typoInPod, 'typo-pod').ok).toBe(false);
    const typoInTrigger = yamlText
      .replace(/^(\s+)consumerGroup:/m, '$1consumerGroup:\n$1bogus: 1\n$1lagThresold: 3')
      .replace(/^(\s+)authenticationRef:/m, '$1authenticationRefs:');
    expect(validate(typoInTrigger, 'typo-crd').ok).toBe(false);
  });
});

describe('pods', () => {
  const cases = [
    ['minimal', [ciValues('minimal')]],
    ['full', [ciValues('full')]],
  ] as const;

  it.each(cases)(
    'every container of the %s rendering is probed, bounded and runs non-root on a read-only root',
    (_name, files) => {
      const docs = render([...files]);
      const pods = [
        ...ofKind(docs, 'Deployment').map((d) => ({
          name: d.metadata.name as string,
          spec: d.spec.template.spec as Manifest,
          probed: true,
        })),
        ...ofKind(docs, 'Pod').map((p) => ({
          name: p.metadata.name as string,
          spec: p.spec as Manifest,
          probed: false,
        })), // helm test: runs once
      ];
      // ingress, dedup, uploader, the helm test pod, and accounts and the RTMS connector when enabled (full values)
      expect(pods).toHaveLength(_name === 'full' ? 6 : 4);
      for (const pod of pods) {
        expect({ pod: pod.name, securityContext: pod.spec.securityContext }).toEqual({
          pod: pod.name,
          securityContext: expect.objectContaining({
            runAsNonRoot: true,
            runAsUser: 10001,
            seccompProfile: { type: 'RuntimeDefault' },
          }),
        });
        expect(pod.spec.automountServiceAccountToken).toBe(false);
        const tmp = (pod.spec.volumes as Manifest[]).find((v) => v.name === 'tmp');
        expect(tmp?.emptyDir).toBeDefined();
        for (const c of [
          ...(pod.spec.containers as Manifest[]),
          ...((pod.spec.initContainers as Manifest[] | undefined) ?? []),
        ]) {
          const where = `${pod.name}/${c.name}`;
          expect({ where, securityContext: c.securityContext }).toEqual({
            where,
            securityContext: expect.objectContaining({
              runAsNonRoot: true,
              runAsUser: 10001,
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
              seccompProfile: { type: 'RuntimeDefault' },
            }),
          });
          expect({ where, requests: c.resources?.requests, limits: c.resources?.limits }).toEqual({
            where,
            requests: expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
            limits: expect.objectContaining({ cpu: expect.anything(), memory: expect.anything() }),
          });
          expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
          if (pod.probed) {
            expect({ where, liveness: c.livenessProbe?.httpGet, readiness: c.readinessProbe?.httpGet }).toEqual({
              where,
              liveness: { path: '/healthz', port: 'http' },
              readiness: { path: '/readyz', port: 'http' },
            });
          }
        }
      }
    },
  );

  it('runs one image with the app chosen by args, and per-component grace periods', () => {
    const docs = render([ciValues('minimal')]);
    const images = new Set<string>();
    for (const component of COMPONENTS) {
      const spec = named(docs, 'Deployment', component).spec.template.spec as Manifest;
      images.add(spec.containers[0].image as string);
      expect(spec.containers[0].args).toEqual([`dist/apps/${component}/src/main.js`]);
    }
    expect([...images]).toEqual(['zoom-pipeline:0.1.0']);
    const grace = Object.fromEntries(
      COMPONENTS.map((c) => [
        c,
        named(docs, 'Deployment', c).spec.template.spec.terminationGracePeriodSeconds as number,
      ]),
    );
    expect(grace).toEqual({ ingress: 30, dedup: 60, uploader: 600 });
    expect(
      render([ciValues('minimal')], ['uploader.terminationGracePeriodSeconds=1200']).find(
        (d) => d.kind === 'Deployment' && d.metadata.name.endsWith('uploader'),
      )?.spec.template.spec.terminationGracePeriodSeconds,
    ).toBe(1200);
    expect(named(docs, 'ConfigMap', 'ingress').data).toEqual(expect.objectContaining({ SHUTDOWN_DELAY: '5s' }));
    expect(configMapData(docs)).toEqual(
      expect.objectContaining({ KAFKA_BROKERS: 'kafka-bootstrap.kafka.svc:9092', DATA_DIR: '/tmp/data', PORT: '8080' }),
    );
  });
});

describe('secrets', () => {
  it('never puts a secret value into a ConfigMap or a plain env value (full values with known secrets)', () => {
    const docs = render([ciValues('full')]);
    const configMaps = JSON.stringify(ofKind(docs, 'ConfigMap'));
    const plainEnv = JSON.stringify(
      docs
        .flatMap((d) => ((d.spec?.template?.spec ?? d.spec)?.containers as Manifest[] | undefined) ?? [])
        .flatMap((c) => ((c.env as Manifest[] | undefined) ?? []).filter((e) => e.value !== undefined)),
    );
    for (const secret of FULL_SECRETS) {
      expect({ secret, inConfigMap: configMaps.includes(secret), inPlainEnv: plainEnv.includes(secret) }).toEqual({
        secret,
        inConfigMap: false,
        inPlainEnv: false,
      });
    }
    // The values did reach the cluster: through the Secret.
    const secretData = Object.values(ofKind(docs, 'Secret')[0].data as Record<string, string>)
      .map((b64) => Buffer.from(b64, 'base64').toString('utf8'))
      .join('\n');
    for (const secret of FULL_SECRETS) expect(secretData).toContain(secret);
  });

  it('hands each component only the Secret keys it reads', () => {
    const docs = render([ciValues('full')]);
    const secretEnv = (component: string): string[] =>
      ((named(docs, 'Deployment', component).spec.template.spec.containers[0].env as Manifest[]) ?? [])
        .filter((e) => e.valueFrom?.secretKeyRef)
        .map((e) => e.name as string)
        .sort();
    expect(secretEnv('ingress')).toEqual([
      'OTEL_EXPORTER_OTLP_HEADERS',
      'ZOOM_WEBHOOK_SECRET_TOKEN',
      'ZOOM_WEBHOOK_SECRET_TOKEN_SALES_EU',
    ]);
    // With accounts on (full values), dedup and the uploader read the accounts keys too: routing and linked users'
    // tokens.
    const accountsKeys = [
      'ACCOUNTS_API_TOKEN',
      'ACCOUNTS_ENCRYPTION_KEY',
      'ACCOUNTS_ENCRYPTION_KEYS',
      'ZOOM_OAUTH_CLIENT_ID',
      'ZOOM_OAUTH_CLIENT_SECRET',
    ];
    expect(secretEnv('dedup')).toEqual([...accountsKeys, 'OTEL_EXPORTER_OTLP_HEADERS', 'REDIS_URL'].sort());
    expect(secretEnv('uploader')).toEqual(
      [
        ...accountsKeys,
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'OTEL_EXPORTER_OTLP_HEADERS',
        'REDIS_URL',
        'ZOOM_ACCOUNT_ID',
        'ZOOM_CLIENT_ID',
        'ZOOM_CLIENT_SECRET',
      ].sort(),
    );
    expect(secretEnv('accounts')).toEqual([...accountsKeys, 'OTEL_EXPORTER_OTLP_HEADERS', 'REDIS_URL'].sort());
    expect(secretEnv('rtms')).toEqual([
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'OTEL_EXPORTER_OTLP_HEADERS',
      'REDIS_URL',
      'RTMS_CLIENT_ID',
      'RTMS_CLIENT_SECRET',
      'ZOOM_ACCOUNT_ID',
      'ZOOM_CLIENT_ID',
      'ZOOM_CLIENT_SECRET',
    ]);
  });

  it('deploys the RTMS connector only when enabled, with its settings in its own ConfigMap', () => {
    expect(
      render([ciValues('minimal')]).filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'rtms'),
    ).toEqual([]);
    const docs = render([ciValues('full')]);
    const deployment = named(docs, 'Deployment', 'rtms');
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.containers[0].args).toEqual(['dist/apps/rtms/src/main.js']);
    const env = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'zp-zoom-pipeline-rtms-env')!
      .data as Record<string, string>;
    expect(env).toEqual(
      expect.objectContaining({
        RTMS_MEDIA: 'audio,transcript,chat',
        RTMS_LEASE_TTL: '10s',
        RTMS_AUDIO_SEGMENT: '60s',
        OTEL_SERVICE_NAME: 'zoom-pipeline-rtms',
      }),
    );
    expect(refusal([ciValues('minimal')], ['rtms.enabled=true', 'rtms.env.RTMS_CLIENT_SECRET=oops'])).toContain(
      'rtms.env.RTMS_CLIENT_SECRET is a secret',
    );
  });

  it('reads REDIS_URL from the ConfigMap only when it carries no password', () => {
    const plain = render([ciValues('minimal')], ['redis.url=redis://redis.redis.svc:6379']);
    expect(configMapData(plain).REDIS_URL).toBe('redis://redis.redis.svc:6379');
    expect(JSON.stringify(ofKind(plain, 'Deployment'))).not.toContain('"key":"REDIS_URL"');
    expect(refusal([ciValues('minimal')], ['redis.url=redis://:hunter2@redis.redis.svc:6379'])).toContain(
      'redis.url carries credentials',
    );
  });
});

describe('Kafka: topics and consumers match the code', () => {
  const keyToTopic: Record<string, string> = {
    raw: TOPICS.raw,
    events: TOPICS.events,
    duplicates: TOPICS.duplicates,
    files: TOPICS.files,
    uploaded: TOPICS.uploaded,
    failed: TOPICS.failed,
    dead: RAW_DEAD_LETTER_TOPIC,
    accountLinks: TOPICS.accountLinks,
    rtmsTranscripts: TOPICS.rtmsTranscripts,
    rtmsChat: TOPICS.rtmsChat,
    attendanceSessions: TOPICS.attendanceSessions,
    attendanceMeetings: TOPICS.attendanceMeetings,
    attendanceState: TOPICS.attendanceState,
  };

  it('creates a Strimzi KafkaTopic per topic with the partitions, replicas and retention from values', () => {
    const docs = render(
      [ciValues('full')],
      ['kafkaTopics.topics.failed.partitions=5', 'kafkaTopics.topics.dead.retentionMs=86400000'],
    );
    const topics = Object.fromEntries(ofKind(docs, 'KafkaTopic').map((t) => [t.spec.topicName as string, t]));
    expect(Object.keys(topics).sort()).toEqual(Object.values(keyToTopic).sort());
    const partitions = Object.fromEntries(
      Object.entries(topics).map(([name, t]) => [name, t.spec.partitions as number]),
    );
    expect(partitions).toEqual({
      ...DEFAULT_PARTITIONS,
      [TOPICS.raw]: 24,
      [TOPICS.files]: 16,
      [TOPICS.failed]: 5,
      [RAW_DEAD_LETTER_TOPIC]: 3,
    });
    for (const t of Object.values(topics)) {
      expect(t.apiVersion).toBe('kafka.strimzi.io/v1beta2');
      expect(t.metadata.labels['strimzi.io/cluster']).toBe('my-cluster');
      expect(t.metadata.namespace).toBe('kafka');
      expect(t.spec.replicas).toBe(3);
      expect(t.spec.config).toEqual(
        expect.objectContaining({
          'min.insync.replicas': 2,
          'compression.type': 'zstd',
          'retention.ms': expect.any(Number),
        }),
      );
    }
    expect(topics[RAW_DEAD_LETTER_TOPIC].spec.config['retention.ms']).toBe(86_400_000);
  });

  it('makes the attendance changelog and the links table compacted topics', () => {
    const topics = Object.fromEntries(
      ofKind(render([ciValues('full')]), 'KafkaTopic').map((t) => [
        t.spec.topicName as string,
        t.spec.config as Manifest,
      ]),
    );
    expect(topics[TOPICS.attendanceState]).toEqual(
      expect.objectContaining({ 'cleanup.policy': 'compact,delete', 'retention.ms': 604_800_000 }),
    );
    expect(topics[TOPICS.accountLinks]).toEqual(
      expect.objectContaining({ 'cleanup.policy': 'compact', 'retention.ms': -1 }),
    );
    expect(topics[TOPICS.events]['cleanup.policy']).toBeUndefined();
  });

  it('deploys the attendance app only when enabled: Deployment, Service, settings, REDIS_URL and S2S keys', () => {
    expect(
      render([ciValues('minimal')]).filter((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'attendance'),
    ).toEqual([]);
    const yaml = renderYaml(
      [ciValues('minimal')],
      ['attendance.enabled=true', 'attendance.grace=5m', 'attendance.endStepBytes=128KiB'],
    );
    const outcome = validate(yaml, 'attendance');
    if (!outcome.ok) throw new Error(outcome.report);
    const docs = parseYaml(yaml);
    const deployment = named(docs, 'Deployment', 'attendance');
    const container = deployment.spec.template.spec.containers[0] as Manifest;
    expect(container.args).toEqual(['dist/apps/attendance/src/main.js']);
    // REDIS_URL, the S2S keys for POST /attendance/registrations (optional: without them it answers 503), and the
    // API token (optional: without it only loopback callers are answered).
    const secretEnv = (container.env as Manifest[]).filter((e) => e.valueFrom?.secretKeyRef);
    expect(secretEnv.map((e) => e.name).sort()).toEqual(
      expect.arrayContaining([
        'ATTENDANCE_API_TOKEN',
        'REDIS_URL',
        'ZOOM_ACCOUNT_ID',
        'ZOOM_CLIENT_ID',
        'ZOOM_CLIENT_SECRET',
      ]),
    );
    for (const name of ['ZOOM_CLIENT_SECRET', 'ATTENDANCE_API_TOKEN'])
      expect(secretEnv.find((e) => e.name === name)!.valueFrom.secretKeyRef).toMatchObject({
        key: name,
        optional: true,
      });
    // Only the attendance pod reads it.
    for (const d of ofKind(render([ciValues('minimal')], ['attendance.enabled=true']), 'Deployment'))
      if (d.metadata.labels?.['app.kubernetes.io/component'] !== 'attendance')
        expect(JSON.stringify(d)).not.toContain('ATTENDANCE_API_TOKEN');
    expect(named(docs, 'Service', 'attendance').spec.type).toBe('ClusterIP');
    expect(named(docs, 'ConfigMap', 'attendance').data).toEqual(
      expect.objectContaining({
        ATTENDANCE_GRACE: '5m',
        ATTENDANCE_END_STEP_BYTES: '128KiB',
        OTEL_SERVICE_NAME: 'zoom-pipeline-attendance',
      }),
    );
  });

  it('defaults to the partition counts of libs/contracts', () => {
    const docs = render([ciValues('minimal')], ['kafkaTopics.enabled=true', 'kafkaTopics.clusterName=c']);
    const partitions = Object.fromEntries(
      ofKind(docs, 'KafkaTopic').map((t) => [t.spec.topicName as string, t.spec.partitions as number]),
    );
    expect(partitions).toEqual({ ...DEFAULT_PARTITIONS, [RAW_DEAD_LETTER_TOPIC]: 3 });
  });

  it('scales dedup and uploader with KEDA on the lag of their own group and topic', () => {
    const docs = render([ciValues('full')]);
    const trigger = (component: string): Manifest =>
      named(docs, 'ScaledObject', component).spec.triggers[0] as Manifest;
    expect(trigger('dedup')).toEqual({
      type: 'kafka',
      metadata: expect.objectContaining({
        consumerGroup: DEDUP_GROUP_ID,
        topic: TOPICS.raw,
        lagThreshold: '200',
        bootstrapServers: 'my-cluster-kafka-bootstrap.kafka.svc:9092,my-cluster-kafka-bootstrap.kafka.svc:9093',
      }),
      authenticationRef: { name: 'kafka-sasl' },
    });
    expect(trigger('uploader').metadata).toEqual(
      expect.objectContaining({ consumerGroup: UPLOADER_GROUP_ID, topic: TOPICS.files, lagThreshold: '3' }),
    );
    expect(named(docs, 'ScaledObject', 'uploader').spec.scaleTargetRef).toEqual({ name: 'zp-zoom-pipeline-uploader' });
    // KEDA owns the replica count: no HPA of ours for the consumers, and no fixed replicas.
    expect(
      ofKind(docs, 'HorizontalPodAutoscaler').map((h) => h.metadata.labels['app.kubernetes.io/component']),
    ).toEqual(['ingress']);
    for (const component of COMPONENTS) expect(named(docs, 'Deployment', component).spec.replicas).toBeUndefined();
  });

  it('falls back to CPU HPAs when KEDA is off', () => {
    const docs = render([ciValues('full')], ['keda.enabled=false']);
    expect(ofKind(docs, 'ScaledObject')).toHaveLength(0);
    const hpas = ofKind(docs, 'HorizontalPodAutoscaler');
    expect(hpas.map((h) => h.spec.scaleTargetRef.name).sort()).toEqual(
      COMPONENTS.map((c) => `zp-zoom-pipeline-${c}`).sort(),
    );
    for (const hpa of hpas) expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
  });
});

describe('network policies and metrics', () => {
  it('lets the webhook port in for ingress, and only the monitoring peers to dedup and uploader', () => {
    const docs = render([ciValues('minimal')], ['networkPolicy.enabled=true']);
    const policy = (component: string): Manifest => named(docs, 'NetworkPolicy', component).spec as Manifest;
    expect(policy('ingress').ingress).toEqual([{ ports: [{ port: 'http', protocol: 'TCP' }] }]);
    for (const component of ['dedup', 'uploader']) {
      expect(policy(component).ingress).toEqual([
        {
          ports: [{ port: 'http', protocol: 'TCP' }],
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      ]);
      expect(policy(component).policyTypes).toEqual(['Ingress']); // egress open by default
    }
    const restricted = render(
      [ciValues('minimal')],
      ['networkPolicy.enabled=true', 'networkPolicy.egress.restrict=true'],
    );
    expect(named(restricted, 'NetworkPolicy', 'uploader').spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('scrapes /metrics of all three components through one ServiceMonitor', () => {
    const docs = render([ciValues('full')]);
    const monitor = ofKind(docs, 'ServiceMonitor')[0];
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics' })]);
    const selected = ofKind(docs, 'Service').filter((s) =>
      Object.entries(monitor.spec.selector.matchLabels as Record<string, string>).every(
        ([k, v]) => s.metadata.labels[k] === v,
      ),
    );
    expect(selected.map((s) => s.metadata.labels['app.kubernetes.io/component']).sort()).toEqual([
      'accounts',
      'dedup',
      'ingress',
      'rtms',
      'uploader',
    ]);
  });
});

describe('reconciler (reconciler.enabled)', () => {
  it(
    'runs one replica of apps/reconciler with its settings, the S2S keys and REDIS_URL, behind a ClusterIP ' +
      'Service',
    () => {
      const docs = render(
        [ciValues('full')],
        ['reconciler.enabled=true', 'reconciler.interval=30m', 'reconciler.users=u1\\,u2'],
      );
      const deployment = named(docs, 'Deployment', 'reconciler');
      expect(deployment.spec.replicas).toBe(1);
      expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
      const container = deployment.spec.template.spec.containers[0] as Manifest;
      expect(container.args).toEqual(['dist/apps/reconciler/src/main.js']);
      const secretEnv = ((container.env as Manifest[]) ?? [])
        .filter((e) => e.valueFrom?.secretKeyRef)
        .map((e) => e.name as string)
        .sort();
      expect(secretEnv).toEqual([
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'OTEL_EXPORTER_OTLP_HEADERS',
        'REDIS_URL',
        'ZOOM_ACCOUNT_ID',
        'ZOOM_CLIENT_ID',
        'ZOOM_CLIENT_SECRET',
      ]);
      expect(named(docs, 'ConfigMap', 'reconciler').data).toEqual(
        expect.objectContaining({
          RECONCILE_INTERVAL: '30m',
          RECONCILE_LOOKBACK: '48h',
          RECONCILE_USERS: 'u1,u2',
          ZOOM_API_RATE: '5',
          ZOOM_AFTER_UPLOAD: 'keep',
          S3_BUCKET: expect.any(String),
        }),
      );
      expect(named(docs, 'Service', 'reconciler').spec.type).toBe('ClusterIP');
      expect(
        render([ciValues('minimal')]).some((d) => d.metadata.labels?.['app.kubernetes.io/component'] === 'reconciler'),
      ).toBe(false);
    },
  );
});

describe('checks.yaml refuses impossible combinations', () => {
  const minimal = [ciValues('minimal')];
  it.each([
    ['no Kafka brokers', ['kafka.brokers=null'], 'kafka.brokers is empty'],
    ['no secret source', ['existingSecret='], 'no secret source'],
    [
      'two secret sources',
      ['secret.create=true', 'secret.zoomWebhookSecretToken=t'],
      'existingSecret and secret.create are both set',
    ],
    [
      'a created Secret without a webhook token',
      ['existingSecret=', 'secret.create=true', 'secret.redisUrl=redis://r:6379'],
      'secret.zoomWebhookSecretToken is empty',
    ],
    [
      'KEDA without a lag threshold',
      ['keda.enabled=true', 'uploader.autoscaling.enabled=true', 'uploader.autoscaling.lagThreshold=null'],
      'needs uploader.autoscaling.lagThreshold',
    ],
    ['KEDA with nothing to scale', ['keda.enabled=true'], 'nothing to scale'],
    [
      'more consumers than partitions',
      ['dedup.autoscaling.enabled=true', 'dedup.autoscaling.maxReplicas=13'],
      'exceeds the 12 partitions of zoom.webhooks.raw',
    ],
    ['Strimzi topics without a cluster', ['kafkaTopics.enabled=true'], 'needs kafkaTopics.clusterName'],
    [
      'fewer replicas than min.insync.replicas',
      ['kafkaTopics.enabled=true', 'kafkaTopics.clusterName=c', 'kafkaTopics.replicas=1'],
      'below kafkaTopics.minInsyncReplicas',
    ],
    [
      'a secret in a ConfigMap-bound env block',
      ['uploader.env.ZOOM_CLIENT_SECRET=oops'],
      'uploader.env.ZOOM_CLIENT_SECRET is a secret',
    ],
    [
      'the attendance API token in its ConfigMap-bound env block',
      ['attendance.enabled=true', 'attendance.env.ATTENDANCE_API_TOKEN=oops'],
      'attendance.env.ATTENDANCE_API_TOKEN is a secret',
    ],
    [
      'a drain delay longer than the grace period',
      ['ingress.shutdownDelay=45s'],
      'must be shorter than ingress.terminationGracePeriodSeconds',
    ],
    [
      'a PDB with both bounds',
      ['dedup.pdb.enabled=true', 'dedup.pdb.minAvailable=1'],
      'set minAvailable or maxUnavailable, not both',
    ],
    [
      'accounts without a callback URL or return allow-list',
      ['accounts.enabled=true'],
      'accounts.enabled needs accounts.redirectUrl',
    ],
  ])('%s', (_name, set, message) => {
    expect(refusal(minimal, set)).toContain(message);
  });

  it('values.schema.json rejects unknown keys and wrong types', () => {
    expect(refusal(minimal, ['ingress.replicas=3'])).toMatch(/additional properties 'replicas' not allowed/);
    expect(refusal(minimal, ['keda.offsetResetPolicy=newest'])).toContain('offsetResetPolicy');
    expect(refusal(minimal, ['kafkaTopics.topics.raw.partitions=0'])).toContain('partitions');
  });
});

describe('documentation', () => {
  const valuesText = readFileSync(join(chartDir, 'values.yaml'), 'utf8');
  const params = [...valuesText.matchAll(/^\s*## @param (\S+) /gm)].map((m) => m[1]);

  it('documents every value with ## @param, in the schema and in the README', () => {
    const values = JSON.parse(
      run(tools.PYTHON, ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))'], {
        input: valuesText,
      }).stdout,
    ) as Manifest;
    // A value is documented by its own @param or by one on an enclosing map.
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string): void => {
      if (path && params.includes(path)) return;
      if (node && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
        for (const [k, v] of Object.entries(node)) walk(v, path ? `${path}.${k}` : k);
      } else {
        undocumented.push(path);
      }
    };
    walk(values, '');
    expect(undocumented).toEqual([]);

    const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as Manifest;
    const inSchema = (path: string): boolean =>
      path.split('.').reduce<Manifest | undefined>((s, k) => s?.properties?.[k], schema) !== undefined;
    expect(params.filter((p) => !inSchema(p))).toEqual([]);

    const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
    expect(params.filter((p) => !readme.includes(`| \`${p}\` |`))).toEqual([]);
  });

  it('keeps values.schema.json and the README tables generated from the current values.yaml', () => {
    const schemaFile = join(work, 'values.schema.json');
    const generated = run(tools.PYTHON, [join(__dirname, 'tools/values-schema.py'), chartDir, schemaFile]);
    expect(generated.stderr).toBe('');
    expect(readFileSync(schemaFile, 'utf8')).toBe(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
    const table = run(tools.PYTHON, [join(__dirname, 'tools/readme-table.py'), join(chartDir, 'values.yaml')]);
    expect(readFileSync(join(chartDir, 'README.md'), 'utf8')).toContain(table.stdout.trim());
  });
});

describe('helm test pod (templates/tests/send-delivery.yaml) against a real ingress', () => {
  let ingress: AppProcess | undefined;
  const token = 'helm-test-token-current';
  afterAll(async () => {
    await ingress?.kill();
  });

  /** The `node -e` script of the rendered test pod, run here with the pod's env pointed at a local ingress. */
  function runTestPod(url: string, secret: string): Run {
    const pod = ofKind(render([ciValues('minimal')]), 'Pod')[0];
    const container = pod.spec.containers[0] as Manifest;
    expect(container.args[0]).toBe('-e');
    expect(container.env).toEqual([
      { name: 'ZP_TEST_URL', value: 'http://zp-zoom-pipeline-ingress.zoom.svc:80/webhooks/zoom' },
      {
        name: 'ZP_TEST_TOKEN',
        valueFrom: { secretKeyRef: { name: 'zoom-pipeline-secrets', key: 'ZOOM_WEBHOOK_SECRET_TOKEN' } },
      },
    ]);
    return run(process.execPath, container.args as string[], {
      env: { PATH: process.env.PATH ?? '', ZP_TEST_URL: url, ZP_TEST_TOKEN: secret },
      timeoutMs: 60_000,
    });
  }

  it('signs endpoint.url_validation with the first token and gets the right 200 answer', async () => {
    ingress = await startApp('ingress', {
      KAFKA_BROKERS: loadEndpoints().kafkaBrokers,
      ZOOM_WEBHOOK_SECRET_TOKEN: `${token},helm-test-token-previous`,
    });
    const ok = runTestPod(`${ingress.url}/webhooks/zoom`, `${token}, other-token`);
    expect({ status: ok.status, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
      status: 0,
      stdout: expect.stringContaining('answered endpoint.url_validation'),
      stderr: '',
    });

    const wrong = runTestPod(`${ingress.url}/webhooks/zoom`, 'not-the-token');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('answered 401');
  });
});
