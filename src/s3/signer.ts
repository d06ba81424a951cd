// SigV4 signing of requests to S3, with @smithy/signature-v4 and either the
// operator's static keys or the AWS default provider chain.
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { Hash } from '@smithy/hash-node';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { StaticCredentials } from '../config/config.ts';

export interface RequestToSign {
  method: 'GET' | 'HEAD' | 'PUT';
  origin: URL;
  /** already encoded; signed and sent exactly as it is */
  path: string;
  query?: Record<string, string>;
  headers: Record<string, string>;
}

export type SignRequest = (request: RequestToSign) => Promise<Record<string, string>>;

export function credentialProvider(staticCredentials?: StaticCredentials): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  // The chain is memoised by the SDK and refreshed before the credentials expire.
  return staticCredentials ?? fromNodeProviderChain();
}

export function createSigner(region: string, staticCredentials?: StaticCredentials): SignRequest {
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials: credentialProvider(staticCredentials),
    sha256: Hash.bind(null, 'sha256'),
    // S3 signs the path as sent: escaping it again, or resolving dot segments,
    // would sign a different key from the one requested.
    uriEscapePath: false,
    applyChecksum: false,
  });
  return async (request) => {
    const { origin } = request;
    const signed = await signer.sign(
      new HttpRequest({
        method: request.method,
        protocol: origin.protocol,
        hostname: origin.hostname,
        port: origin.port ? Number(origin.port) : undefined,
        path: request.path,
        query: request.query ?? {},
        headers: {
          ...request.headers,
          host: origin.host,
          // downloads carry no body, and upload bodies are streamed through
          // unread: S3 accepts this in place of a payload hash
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        },
      }),
    );
    return signed.headers;
  };
}
