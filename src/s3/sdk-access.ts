// The AWS SDK client, made on first use. Only listings, uploads and download
// redirects need it, and loading the SDK costs every process megabytes of
// RSS at start-up; object downloads go through S3Origin without it.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';

export interface SdkAccess {
  /** the one client of the process, loaded and made the first time it is asked for */
  client(): Promise<S3Client>;
  /** closes its sockets, if it was ever made */
  destroy(): void;
}

export function sdkAccess(s3: Config['s3']): SdkAccess {
  let client: S3Client | undefined;
  return {
    client: onceUntilFailure(async () => {
      const { createS3Client } = await import('./s3-client.ts');
      return (client = createS3Client(s3));
    }),
    destroy: () => client?.destroy(),
  };
}
