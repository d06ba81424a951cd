// The AWS SDK client, made on first use. Only listings, uploads and download
// redirects need it, and loading the SDK costs every process megabytes of
// RSS at start-up; object downloads go through S3Origin without it.
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config/config.ts';

export interface SdkAccess {
  /** the one client of the process, loaded and made the first time it is asked for */
  client(): Promise<S3Client>;
  /** closes its sockets, if it was ever made */
  destroy(): void;
}

export function sdkAccess(s3: Config['s3']): SdkAccess {
  let made: Promise<S3Client> | undefined;
  let client: S3Client | undefined;
  return {
    client: () =>
      (made ??= import('./s3-client.ts').then(
        ({ createS3Client }) => (client = createS3Client(s3)),
        (error: unknown) => {
          made = undefined;
          throw error;
        },
      )),
    destroy: () => client?.destroy(),
  };
}
