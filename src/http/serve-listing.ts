// GET and HEAD of a folder (a path ending in '/'): one page of ListObjectsV2,
// as HTML for people and as JSON for `Accept: application/json`. S3's errors
// become the proxy's own short answers, as for objects.
import type { Context } from 'koa';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BucketLocation, Config } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import { classifyListError, listFolder, type ListingPage } from '../s3/list-objects.ts';
import { listingContentSecurityPolicy, listingHtml, listingJson, pageTokenFrom, sortFrom, sortListing } from './listing-page.ts';
import { HttpProblem } from '../shared/http-problem.ts';
import type { RequestState } from '../shared/request-state.ts';
import { assets } from './assets.ts';
import { uploadArea, uploadAreaHtml, type UploadArea } from './upload-area.ts';
import { mayUpload } from '../uploads/upload-policy.ts';
import { browsersSendToS3 } from '../s3/bucket-cors.ts';

export interface ServeListingDeps {
  s3: S3Client;
  location: BucketLocation;
  logger: Logger;
  config: Pick<Config, 'uploads'>;
}

/** `prefix` is '' or ends with '/', relative to the operator's key prefix. */
export async function serveListing(ctx: Context, prefix: string, deps: ServeListingDeps): Promise<void> {
  const state = ctx.state as RequestState;
  state.s3Key = deps.location.keyPrefix + prefix;
  const page = pageTokenFrom(ctx.querystring);
  if (!page.ok) throw new HttpProblem(400, page.reason);
  const sort = sortFrom(ctx.querystring);
  if (!sort.ok) throw new HttpProblem(400, sort.reason);

  const abort = new AbortController();
  const onClose = () => abort.abort();
  ctx.res.once('close', onClose);
  let listing: ListingPage;
  try {
    listing = await listFolder(deps.s3, deps.location, prefix, page.token, abort.signal);
  } catch (error) {
    const failure = classifyListError(error);
    if (failure.logAs === 'error') {
      deps.logger.error({ requestId: state.requestId, s3Status: failure.s3Status, s3Code: failure.code, key: state.s3Key }, failure.reason);
    }
    throw new HttpProblem(failure.status, failure.reason);
  } finally {
    ctx.res.off('close', onClose);
  }
  const upload = uploadAreaFor(state, deps, prefix);
  // S3 has no folders: a prefix with nothing under it (not even a marker)
  // is a folder that does not exist, except the top, which always does, and
  // the user's own upload folder, where the first upload is made.
  if (listing.nothingThere && prefix !== '' && page.token === undefined && !upload?.here) throw new HttpProblem(404, 'empty prefix');

  ctx.status = 200;
  ctx.vary('accept');
  ctx.set('cache-control', 'private, no-cache');
  ctx.set('x-content-type-options', 'nosniff');
  const sorted = sortListing(listing, sort.sort);
  if (ctx.accepts('html', 'json') === 'json') {
    ctx.body = listingJson(sorted, sort.sort);
    return;
  }
  const catalog = await assets();
  // direct uploads send the bytes from the browser to S3 itself
  const connect = browsersSendToS3(deps.config.uploads) ? [deps.location.origin] : [];
  ctx.set('content-security-policy', listingContentSecurityPolicy(upload ? { connect } : undefined));
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = listingHtml(sorted, {
    stylesheets: upload ? [catalog.url('uppy.css'), catalog.url('listing.css')] : [catalog.url('listing.css')],
    ...(upload ? { scripts: [catalog.url('uppy.js'), catalog.url('upload-page.js')], uploadArea: uploadAreaHtml(upload) } : {}),
    ...(page.token === undefined ? {} : { pageToken: page.token }),
    sort: sort.sort,
    ...(state.user ? { user: state.user } : {}),
  });
}

/** The upload area, when uploads are on and this user may upload. */
function uploadAreaFor(state: RequestState, deps: ServeListingDeps, prefix: string): UploadArea | undefined {
  const settings = deps.config.uploads;
  if (!settings || !state.user || !mayUpload(state.user, settings.allowedUsers)) return undefined;
  return uploadArea(settings, state.user, prefix);
}
