import { AirlockError } from '../../../core';

export { FsBlobStore } from './fs-blobs';
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blobs';
export { isBlobName, type BlobPutResult, type BlobRange, type BlobStore } from './types';

/** DNS-compatible bucket names (the S3 naming rules that MinIO, Ceph RGW and R2 share). */
const BUCKET = /^[a-z0-9](?:[a-z0-9.-]{1,61})[a-z0-9]$/;
/** S3's "safe characters" for object keys; anything else in a prefix is refused, not escaped. */
const PREFIX_SEGMENT = /^[A-Za-z0-9!_.*'()-]+$/;

/**
 * Parses `--bundles s3://BUCKET/PREFIX` (issue 15): the bucket, and the key prefix without
 * leading or trailing slashes (`''` for the bucket's root). Refuses (`INVALID_ARGUMENT`) another
 * scheme, a bucket name S3 would refuse, credentials, a query or a fragment, and empty, `.` or
 * `..` prefix segments.
 * @example parseBundlesUrl('s3://airlock-bundles/prod/eu') // { bucket: 'airlock-bundles', prefix: 'prod/eu' }
 */
export function parseBundlesUrl(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/?#]*)(?:\/([^?#]*))?$/.exec(url);
  if (match === null) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      'Bundles in an object store are named s3://BUCKET/PREFIX (no query, no fragment).',
    );
  }
  const [, bucket = '', rawPrefix = ''] = match;
  if (bucket.includes('@')) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      'Credentials never go in the bundles URL: use the AWS_* environment variables.',
    );
  }
  if (!BUCKET.test(bucket) || bucket.includes('..')) {
    throw new AirlockError(
      'INVALID_ARGUMENT',
      'An S3 bucket name has 3 to 63 lowercase letters, digits, dots and hyphens.',
    );
  }
  const prefix = rawPrefix.endsWith('/') ? rawPrefix.slice(0, -1) : rawPrefix;
  if (prefix !== '') {
    for (const segment of prefix.split('/')) {
      if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..') {
        throw new AirlockError(
          'INVALID_ARGUMENT',
          `Not a usable S3 prefix: ${JSON.stringify(prefix)} (letters, digits and !_.*'()- between single slashes).`,
        );
      }
    }
  }
  return { bucket, prefix };
}
