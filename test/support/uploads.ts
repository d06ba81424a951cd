// Helpers for the upload tests: a proxy with uploads on, signed-in users,
// JSON calls to the upload routes as a same-origin page would make them,
// and an SDK client that looks at the bucket itself (claims about what S3
// holds are checked at S3, never from the proxy's answers).
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutBucketLifecycleConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startProxy, type ProxyProcess } from './proxy-process.ts';
import { proxyEnv, oauth2Sso } from './proxy-env.ts';
import { createBucket, putObject, type S3Stack } from './s3-fixtures.ts';
import type { OAuth2Sso, SsoUser } from './oauth2-sso-server.ts';
import { UserAgent } from './user-agent.ts';

export const ada: SsoUser = { email: 'ada@example.org', user_id: 'ada1', first_name: 'Ada', last_name: 'Lovelace' };
export const bob: SsoUser = { email: 'bob@example.org', user_id: 'bob1', first_name: 'Bob', last_name: 'Builder' };

/** The SDK, with the admin's keys, for looking at the bucket directly. */
export function s3Admin(stack: S3Stack): S3Client {
  return new S3Client({
    region: stack.region,
    endpoint: stack.endpoint.origin,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.accessKey, secretAccessKey: stack.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** What the bucket holds at `fullKey`: its bytes, type and metadata, or undefined. */
export async function objectAtS3(s3: S3Client, bucket: string, fullKey: string): Promise<{ body: Buffer; type?: string; metadata: Record<string, string> } | undefined> {
  try {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey }));
    const body = Buffer.from(await got.Body!.transformToByteArray());
    return { body, ...(got.ContentType ? { type: got.ContentType } : {}), metadata: got.Metadata ?? {} };
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

export async function existsAtS3(s3: S3Client, bucket: string, fullKey: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: fullKey }));
    return true;
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
}

/** Multipart uploads S3 has in progress in the bucket (upload ids). */
export async function multipartUploadsAtS3(s3: S3Client, bucket: string): Promise<string[]> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (listed.Uploads ?? []).map((u) => u.UploadId!);
}

/** The rule the README asks operators for: S3 drops multipart uploads left unfinished for a day. */
export async function setAbortIncompleteRule(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: bucket,
      LifecycleConfiguration: {
        Rules: [{ ID: 'abort-incomplete-multipart-uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }],
      },
    }),
  );
}

export interface UploadProxy {
  proxy: ProxyProcess;
  bucket: string;
  keyPrefix: string;
}

/** A new bucket (with the lifecycle rule and `public/index.txt` to sign in on) and a proxy serving `public/` with uploads on. */
export async function startUploadProxy(
  stack: S3Stack,
  sso: OAuth2Sso,
  name: string,
  uploadEnv: Record<string, string>,
  options: { bucket?: string; redisUrl?: string; extra?: Record<string, string> } = {},
): Promise<UploadProxy> {
  const keyPrefix = 'public/';
  const bucket = options.bucket ?? (await createBucket(stack, name));
  if (!options.bucket) {
    await putObject(stack, bucket, `${keyPrefix}index.txt`, 'index', 'text/plain');
    await setAbortIncompleteRule(s3Admin(stack), bucket);
  }
  const proxy = await startProxy(
    proxyEnv(stack, {
      bucket,
      keyPrefix,
      sso: oauth2Sso(sso),
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
      extra: { UPLOAD_PREFIX: 'uploads/{user}/', ...uploadEnv, ...options.extra },
    }),
  );
  return { proxy, bucket, keyPrefix };
}

// The test SSO approves whoever setUser() named last: sign-ins through one
// SSO take turns, so that concurrent tests cannot swap each other's users.
const signInQueues = new WeakMap<OAuth2Sso, Promise<unknown>>();

/** A fresh browser signed in as `user` through the test SSO. */
export async function signIn(proxy: ProxyProcess, sso: OAuth2Sso, user: SsoUser): Promise<UserAgent> {
  const run = async () => {
    sso.setUser(user);
    const agent = new UserAgent();
    const signedIn = await agent.signInOAuth2(`${proxy.url}/index.txt`);
    if (signedIn.response.status !== 200) throw new Error(`sign-in failed: ${signedIn.response.status}`);
    await signedIn.response.arrayBuffer();
    return agent;
  };
  const turn = (signInQueues.get(sso) ?? Promise.resolve()).then(run, run);
  signInQueues.set(sso, turn.catch(() => undefined));
  return turn;
}

/** The headers a page on the proxy's own origin sends with fetch() (the user agent adds Sec-Fetch-*). */
export function sameOriginHeaders(proxy: ProxyProcess): Record<string, string> {
  return { origin: proxy.url };
}

export interface JsonAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallInit {
  /** false (default): a page's fetch(); undefined: no fetch metadata at all (curl, old browsers) */
  navigation?: boolean | undefined;
  fetchSite?: 'none' | 'same-origin' | 'same-site' | 'cross-site';
  headers?: Record<string, string>;
}

/** A call to an upload route, by default a fetch() from the proxy's own page: JSON in, JSON out. */
export async function callJson<T = any>(
  agent: UserAgent,
  proxy: ProxyProcess,
  method: string,
  path: string,
  body?: unknown,
  init: CallInit = { navigation: false, headers: sameOriginHeaders(proxy) },
): Promise<JsonAnswer<T>> {
  const response = await agent.request(`${proxy.url}${path}`, {
    method,
    ...('navigation' in init ? { navigation: init.navigation } : {}),
    ...(init.fetchSite ? { fetchSite: init.fetchSite } : {}),
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} answered ${response.status} with something that is not JSON (${response.headers.get('content-type')}): ${text.slice(0, 200)}`);
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** A presigned POST sent to S3 as a browser form would send it. */
export async function postForm(url: string, fields: Record<string, string>, file: Buffer, override: Record<string, string> = {}): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries({ ...fields, ...override })) form.set(name, value);
  form.set('file', new Blob([new Uint8Array(file)]), 'file');
  return fetch(url, { method: 'POST', body: form });
}

/** The path the proxy serves `key` at. */
export function proxyPath(key: string): string {
  return '/' + key.split('/').map(encodeURIComponent).join('/');
}

/** Downloads `key` through the proxy as the signed-in `agent`. */
export async function download(agent: UserAgent, proxy: ProxyProcess, key: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  const response = await agent.request(`${proxy.url}${proxyPath(key)}`, { navigation: false });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()), type: response.headers.get('content-type') };
}
