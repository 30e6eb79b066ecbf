// Where the real test services started by scripts/infra.sh listen. The script writes
// $RUN/endpoints.json after `up`; this file finds it exactly the way the script computes $RUN.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export interface Endpoints {
  /** Comma-separated host:port list, e.g. "127.0.0.1:19092". */
  kafkaBrokers: string;
  /** e.g. "redis://127.0.0.1:16379". */
  redisUrl: string;
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    forcePathStyle: boolean;
    /**
     * S3Proxy's filesystem directory (one sub-directory per bucket), when the server was started by
     * scripts/infra.sh. Only test cleanup uses it, for what the S3 API cannot reach (see removeBucket).
     */
    dataDir?: string;
  };
}

/** Same rule as scripts/infra.sh: ZP_RUN_DIR, else ZP_CACHE_DIR / XDG_CACHE_HOME / ~/.cache + zoom-pipeline/run. */
export function defaultEndpointsFile(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env.ZP_CACHE_DIR || join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'zoom-pipeline');
  const run = env.ZP_RUN_DIR || join(cache, 'run');
  return resolve(run, 'endpoints.json');
}

export function endpointsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.ZP_ENDPOINTS_FILE ? resolve(env.ZP_ENDPOINTS_FILE) : defaultEndpointsFile(env);
}

export function loadEndpoints(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const file = endpointsFile(env);
  if (!existsSync(file)) {
    throw new Error(
      `Test services are not running: ${file} does not exist. Start them with \`bash scripts/infra.sh up\` ` +
        '(from the repo root), or point ZP_ENDPOINTS_FILE at the endpoints.json of services you started yourself.',
    );
  }
  let parsed: Endpoints;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Endpoints;
  } catch (err) {
    throw new Error(`Cannot parse ${file} (${(err as Error).message}); re-run \`bash scripts/infra.sh up\``, {
      cause: err,
    });
  }
  if (!parsed.kafkaBrokers || !parsed.redisUrl || !parsed.s3?.endpoint) {
    throw new Error(`${file} lacks kafkaBrokers, redisUrl or s3.endpoint; re-run \`bash scripts/infra.sh up\``);
  }
  return parsed;
}

/**
 * A fresh name that is valid as a Kafka topic, a Redis key and an S3 bucket name:
 * lowercase letters, digits and dashes, starting with a letter or digit, at most 63 characters.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
  const suffix = `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const head = (clean || 'zp').slice(0, 63 - suffix.length - 1).replace(/-+$/, '');
  return `${head}-${suffix}`;
}

/**
 * The uploader's S3 settings for a test bucket on the S3Proxy the tests run (created on first use), downloads from
 * zoom-sim allowed.
 */
export function uploaderS3Env(e: Endpoints, bucket: string): Record<string, string> {
  return {
    S3_BUCKET: bucket,
    S3_ENDPOINT: e.s3.endpoint,
    S3_REGION: e.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    S3_CREATE_BUCKET: 'true',
    AWS_ACCESS_KEY_ID: e.s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: e.s3.secretAccessKey,
    ZOOM_DOWNLOAD_ALLOWED_HOSTS: '127.0.0.1,127.0.0.2',
  };
}
