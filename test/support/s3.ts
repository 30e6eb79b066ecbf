import { DeleteBucketCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, AbortMultipartUploadCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { loadEndpoints } from './endpoints';

/**
 * Empties and deletes a bucket of the test S3 server (objects and open multipart uploads). Tests and benchmarks
 * that store large objects call it when done: S3Proxy keeps every object on the local disk, and a 2 GiB file
 * per run fills the machine after a few dozen runs. Missing bucket: nothing to do. Never throws.
 */
export async function removeBucket(bucket: string): Promise<void> {
  const { s3 } = loadEndpoints();
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of uploads.Uploads ?? []) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch {
    /* best effort: a missing bucket or a stopped server leaves nothing to clean here */
  } finally {
    client.destroy();
  }
}
