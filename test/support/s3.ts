import {
  AbortMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadEndpoints } from './endpoints';

/**
 * Empties and deletes a bucket of the test S3 server (objects and open multipart uploads). Tests and benchmarks
 * that store large objects call it when done: S3Proxy keeps every object on the local disk, and a 2 GiB file
 * per run fills the machine after a few dozen runs. Missing bucket or stopped server: nothing to do. Never throws
 * (cleanup is not what a test asserts; a failed cleanup is reported on stderr).
 *
 * A part whose request was still landing when its upload was aborted can outlive the abort (S3 documents the
 * same: "part uploads in progress might or might not succeed"). S3Proxy's filesystem backend then keeps it as a
 * hidden `.mpus-*` file that no S3 call lists or deletes, and DeleteBucket answers BucketNotEmpty forever. So:
 * empty and retry for a few seconds, then, when the server is the S3Proxy that scripts/infra.sh started (its
 * endpoints.json names the data directory), remove what is left of the bucket's directory.
 */
export async function removeBucket(bucket: string): Promise<void> {
  const { s3 } = loadEndpoints();
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  let lastError: unknown;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await sleep(500 * attempt);
      try {
        await emptyBucket(client, bucket);
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
        return;
      } catch (err) {
        const name = (err as { name?: string }).name;
        if (name === 'NoSuchBucket') return;
        if (name !== 'BucketNotEmpty') {
          // Stopped server, refused connection: nothing a retry here would fix.
          lastError = err;
          break;
        }
        lastError = err;
      }
    }
    if ((lastError as { name?: string } | undefined)?.name === 'BucketNotEmpty' && s3.dataDir) {
      await removeLeftoverDirectory(s3.dataDir, bucket);
      return;
    }
    process.stderr.write(
      `[test-support] could not remove bucket ${bucket}: ${String((lastError as Error)?.message ?? lastError)}\n`,
    );
  } finally {
    client.destroy();
  }
}

async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of uploads.Uploads ?? []) {
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }))
      .catch(() => undefined);
  }
}

async function removeLeftoverDirectory(dataDir: string, bucket: string): Promise<void> {
  const root = resolve(dataDir);
  const dir = resolve(join(root, bucket));
  // The bucket name comes from the tests, but never let a name like ".." reach rm -r.
  if (!dir.startsWith(root + sep) || dir === root) return;
  await rm(dir, { recursive: true, force: true }).catch((err: Error) => {
    process.stderr.write(`[test-support] could not remove ${dir}: ${err.message}\n`);
  });
}
