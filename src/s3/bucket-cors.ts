// The bucket CORS rule that lets browsers send upload bytes straight to S3
// (UPLOAD_DATA_PATH=direct), and a start-up check that the bucket has one for
// the proxy's origin. Without it every upload from the page fails in the
// browser with a CORS error, which nobody would trace to the bucket: one
// warning at start-up says so. The rule and the verdict are pure.
import { GetBucketCorsCommand, type CORSRule, type S3Client } from '@aws-sdk/client-s3';
import type { BucketLocation } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';

/**
 * What the upload page needs: PUT (presigned parts and objects) and POST
 * (presigned POST forms) from the proxy's origin, and the ETag header
 * readable by the page (a multipart upload is completed with the parts' ETags).
 * The same rule, as JSON, is in the README for `aws s3api put-bucket-cors`.
 */
export function uploadCorsRule(origin: string): CORSRule {
  return {
    AllowedOrigins: [origin],
    AllowedMethods: ['PUT', 'POST'],
    AllowedHeaders: ['*'],
    ExposeHeaders: ['ETag'],
    MaxAgeSeconds: 3000,
  };
}

/** `{"CORSRules": [...]}`, the document `aws s3api put-bucket-cors --cors-configuration` takes. */
export function uploadCorsConfiguration(origin: string): { CORSRules: CORSRule[] } {
  return { CORSRules: [uploadCorsRule(origin)] };
}

/** S3's matching: an AllowedOrigin may hold one `*`, standing for any run of characters. */
export function originMatches(pattern: string, origin: string): boolean {
  const star = pattern.indexOf('*');
  if (star === -1) return pattern === origin;
  const head = pattern.slice(0, star);
  const tail = pattern.slice(star + 1);
  return origin.length >= head.length + tail.length && origin.startsWith(head) && origin.endsWith(tail);
}

export type CorsVerdict = { ok: true } | { ok: false; problem: string };

/**
 * Whether these rules let a page on `origin` PUT and POST to the bucket and
 * read the ETag (`origin` undefined: any origin the rules name). S3 answers
 * a preflight with the first rule that matches the origin and method, so
 * each method is judged by its first matching rule.
 */
export function corsVerdict(rules: CORSRule[] | undefined, origin: string | undefined): CorsVerdict {
  if (!rules || rules.length === 0) return { ok: false, problem: 'the bucket has no CORS configuration' };
  const from = origin ?? 'any origin';
  for (const method of ['PUT', 'POST']) {
    const rule = rules.find(
      (r) =>
        (r.AllowedOrigins ?? []).some((o) => origin === undefined || originMatches(o, origin)) &&
        (r.AllowedMethods ?? []).some((m) => m.toUpperCase() === method),
    );
    if (!rule) return { ok: false, problem: `no CORS rule allows ${method} from ${from}` };
    if (method === 'PUT' && !(rule.ExposeHeaders ?? []).some((h) => h.toLowerCase() === 'etag')) {
      return { ok: false, problem: `the CORS rule for PUT from ${from} does not expose the ETag header` };
    }
  }
  return { ok: true };
}

const readmeHint = 'see "Uploads from the browser" in the README for the rule (aws s3api put-bucket-cors)';

/**
 * The one line to log about the bucket's CORS, or undefined when all is
 * well. `publicUrl` absent: the proxy learns its origin per request, so it
 * can only say whether some origin may upload.
 */
export function corsWarning(rules: CORSRule[] | undefined, publicUrl: string | undefined): string | undefined {
  if (publicUrl === undefined) {
    const anyOrigin = corsVerdict(rules, undefined);
    if (!anyOrigin.ok) return `uploads from the browser will fail: ${anyOrigin.problem}; ${readmeHint}`;
    return `could not check that the bucket's CORS allows the proxy's origin, because PUBLIC_URL is not set; ${readmeHint}`;
  }
  const verdict = corsVerdict(rules, publicUrl);
  return verdict.ok ? undefined : `uploads from the browser will fail: ${verdict.problem}; ${readmeHint}`;
}

/** Reads the bucket's CORS and logs one warning when browsers could not upload. Never throws. */
export async function checkBucketCors(client: S3Client, location: BucketLocation, publicUrl: string | undefined, logger: Logger): Promise<void> {
  let rules: CORSRule[] | undefined;
  try {
    rules = (await client.send(new GetBucketCorsCommand({ Bucket: location.bucket }))).CORSRules;
  } catch (error) {
    const e = error as { name?: string; Code?: string };
    const code = e.Code ?? e.name;
    if (code !== 'NoSuchCORSConfiguration') {
      logger.warn({ bucket: location.bucket, s3Code: code }, `could not read the bucket's CORS configuration (${code}); uploads from the browser need a rule for the proxy's origin: ${readmeHint}`);
      return;
    }
    rules = undefined;
  }
  const warning = corsWarning(rules, publicUrl);
  if (warning !== undefined) logger.warn({ bucket: location.bucket, origin: publicUrl }, warning);
  else logger.info({ bucket: location.bucket, origin: publicUrl }, "the bucket's CORS allows uploads from the browser");
}

/**
 * Whether browsers send upload bytes to S3 itself (UPLOAD_DATA_PATH=direct,
 * the default), so that the bucket's CORS and the page's connect-src matter.
 */
export function browsersSendToS3(uploads: object | undefined): boolean {
  return uploads !== undefined && !('dataPath' in uploads && uploads.dataPath === 'proxy');
}
