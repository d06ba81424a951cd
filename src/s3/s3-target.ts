// Where on the S3 server an object lives, for either addressing style. Pure.
import type { BucketLocation } from '../config/config.ts';
import { encodeKeyForS3 } from './object-key.ts';

export interface S3Target {
  /** the key S3 is asked for: the operator's prefix plus the requested key */
  fullKey: string;
  /** the request path, already encoded, to send and to sign as it is */
  path: string;
}

export function objectTarget(location: BucketLocation, key: string): S3Target {
  const fullKey = location.keyPrefix + key;
  const encoded = encodeKeyForS3(fullKey);
  const path =
    location.style === 'path'
      ? `/${encodeKeyForS3(location.bucket)}/${encoded}`
      : `/${encoded}`;
  return { fullKey, path };
}

/** The bucket's root, for ListObjectsV2 and for HEAD Bucket. */
export function bucketPath(location: BucketLocation): string {
  return location.style === 'path' ? `/${encodeKeyForS3(location.bucket)}` : '/';
}
