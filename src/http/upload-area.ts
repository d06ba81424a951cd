// The upload area of a folder listing: where the signed-in user's files go,
// the operator's limits for the page to enforce before a byte is sent, and
// the markup that the upload script (assets/upload-page.js) turns into
// Uppy's Dashboard. Pure. Settings reach the script as data attributes, so
// the page needs no inline script.
import type { UploadSettings } from '../config/upload-settings.ts';
import type { Identity } from '../shared/identity.ts';
import { escapeHtml } from '../shared/html.ts';
import { userHash, userPrefix } from '../uploads/object-name.ts';
import { humanSize, pathForKey } from './listing-page.ts';

/** Uppy's Companion-style S3 routes live under this path (`/s3/...`). */
export const uploadEndpointPath = '/__s3proxy';

/**
 * Files above this go up in parts: they can be paused, resumed after a
 * reload, and retried part by part. Smaller ones are one POST, which is
 * quicker (no create, sign and complete round trips) and cheap to redo.
 */
export const multipartFromBytes = 16 * 1024 * 1024;

export interface UploadArea {
  /** the user's upload prefix, relative to the operator's key prefix (may end inside a name) */
  destination: string;
  /** the folder whose listing shows the uploaded files: the destination up to its last '/' */
  folder: string;
  /** the listing shown is that folder: it updates itself as files finish */
  here: boolean;
  maxBytes: number;
  /** lower-cased media types or `type/*`; absent: any */
  allowedTypes?: string[];
  /** the name the browser keeps this user's unfinished uploads under */
  store: string;
}

export function uploadArea(settings: UploadSettings, user: Identity, listingPrefix: string): UploadArea {
  const destination = userPrefix(settings.prefixTemplate, user.email);
  const folder = destination.slice(0, destination.lastIndexOf('/') + 1);
  return {
    destination,
    folder,
    here: listingPrefix === folder,
    maxBytes: settings.maxBytes,
    store: `s3proxy-uploads-${userHash(user.email)}`,
    ...(settings.allowedTypes ? { allowedTypes: settings.allowedTypes } : {}),
  };
}

/** The line under the drop zone that says what the page will refuse. */
export function restrictionsNote(area: UploadArea): string {
  const parts = [`Files up to ${humanSize(area.maxBytes)} each`];
  if (area.allowedTypes) parts.push(`of type ${area.allowedTypes.join(', ')}`);
  return parts.join(', ');
}

export function uploadAreaHtml(area: UploadArea): string {
  const folderPath = pathForKey(area.folder);
  // a template like uploads/{user}- puts the files in the folder with names that start with it
  const namePrefix = area.destination.slice(area.folder.length);
  const nameNote = namePrefix === '' ? '' : `, with names starting ${escapeHtml(namePrefix)}`;
  const where = area.here
    ? `Files you upload go into this folder${nameNote}; the list below shows them as they finish.`
    : `Files you upload go to <a href="${escapeHtml(folderPath)}" class="destination">${escapeHtml('/' + area.folder)}</a>${nameNote}.`;
  const data: Record<string, string> = {
    'data-endpoint': uploadEndpointPath,
    'data-max-bytes': String(area.maxBytes),
    'data-multipart-from': String(multipartFromBytes),
    'data-note': restrictionsNote(area),
    'data-refresh': area.here ? 'listing' : 'none',
    'data-store': area.store,
  };
  if (area.allowedTypes) data['data-allowed-types'] = area.allowedTypes.join(',');
  const attributes = Object.entries(data)
    .map(([name, value]) => ` ${name}="${escapeHtml(value)}"`)
    .join('');
  return `<section class="upload" id="upload" aria-label="Upload files"${attributes}>
<p class="destination">${where}</p>
<div id="uppy-dashboard"></div>
<noscript><p class="noscript">Uploading from this page needs JavaScript.</p></noscript>
</section>
`;
}
