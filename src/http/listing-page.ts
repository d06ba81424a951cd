// A folder listing as a small HTML page (readable on a phone, sortable
// without script) or as JSON. Pure. Every key is S3 data the proxy does not
// control: it is HTML-escaped as text, and percent-encoded segment by segment
// for links, so that following a link asks for exactly the key that was listed.
import type { ListedObject, ListingPage } from '../s3/list-objects.ts';
import { encodeKeyForS3 } from '../s3/object-key.ts';
import { escapeHtml } from '../shared/html.ts';
import type { Identity } from '../shared/identity.ts';

/**
 * Styles (and, with the upload area, scripts) from the proxy's own origin
 * only: no inline script or style, nothing from elsewhere. `connect` names
 * the origins the upload script may send to besides this one (S3, when the
 * browser sends the bytes there itself). Images only as Uppy's thumbnails
 * (blob:) and icons (data:). No form-action: signing out may redirect to the
 * provider, which form-action would block.
 */
export function listingContentSecurityPolicy(upload?: { connect: string[] }): string {
  const directives = ["default-src 'none'", "style-src 'self'", "base-uri 'none'", "frame-ancestors 'none'"];
  if (upload) {
    directives.push("script-src 'self'", ["connect-src 'self'", ...upload.connect].join(' '), "img-src 'self' data: blob:");
  }
  return directives.join('; ');
}

/** The query parameter carrying S3's continuation token. */
export const pageParameter = 'page';

/**
 * Tokens are opaque: AWS sends base64, Ceph RGW the next key itself. Either
 * way they stay within what a key and its encoding may take, and are only
 * ever handed back to S3 (which checks them) and percent-encoded into links.
 */
const maxTokenLength = 4096;

export type PageToken = { ok: true; token: string | undefined } | { ok: false; reason: string };

export function pageTokenFrom(querystring: string): PageToken {
  let values: string[];
  try {
    values = new URLSearchParams(querystring).getAll(pageParameter);
  } catch {
    return { ok: false, reason: 'malformed query' };
  }
  if (values.length === 0) return { ok: true, token: undefined };
  if (values.length > 1) return { ok: false, reason: 'more than one page token' };
  const token = values[0]!;
  if (token === '' || token.length > maxTokenLength) return { ok: false, reason: 'page token of the wrong length' };
  if (/[\u0000-\u001f\u007f]/.test(token) || token.includes('\ufffd')) return { ok: false, reason: 'page token with control or invalid characters' };
  return { ok: true, token };
}

/**
 * The proxy path of a key (relative to the operator's prefix), as an
 * absolute-path reference. A key starting with '/' would make the path start
 * with '//', which a browser reads as another host: '/.' in front is removed
 * again by URL resolution and keeps the path on this host.
 */
export function pathForKey(key: string): string {
  const path = '/' + encodeKeyForS3(key);
  return path.startsWith('//') ? '/.' + path : path;
}

/**
 * Whether a browser can follow a link to this key. URL resolution removes
 * '.' and '..' segments (even encoded ones), and the proxy refuses control
 * characters, so such keys are listed without a link rather than with one
 * that leads to a different key.
 */
export function linkable(key: string): boolean {
  if (/[\u0000-\u001f\u007f]/.test(key)) return false;
  return !key.split('/').some((segment) => segment === '.' || segment === '..');
}

export function nextPageQuery(token: string, sort: Sort = defaultSort): string {
  const order = sortQuery(sort);
  return `?${pageParameter}=${encodeURIComponent(token)}${order === '' ? '' : '&' + order}`;
}

export type SortKey = 'name' | 'size' | 'date';
export interface Sort {
  key: SortKey;
  order: 'asc' | 'desc';
}

/** S3's own order: by key, so that pages follow on from each other. */
export const defaultSort: Sort = { key: 'name', order: 'asc' };

const sortKeys: readonly SortKey[] = ['name', 'size', 'date'];

/**
 * `?sort=name|size|date&order=asc|desc`. The server sorts, so the page needs
 * no script; it sorts the rows of the page shown (S3 lists at most 1,000
 * keys per page, always in key order).
 */
export function sortFrom(querystring: string): { ok: true; sort: Sort } | { ok: false; reason: string } {
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(querystring);
  } catch {
    return { ok: false, reason: 'malformed query' };
  }
  const keys = params.getAll('sort');
  const orders = params.getAll('order');
  if (keys.length > 1 || orders.length > 1) return { ok: false, reason: 'more than one sort or order' };
  const key = keys[0] ?? defaultSort.key;
  if (!sortKeys.includes(key as SortKey)) return { ok: false, reason: 'unknown sort (name, size or date)' };
  const order = orders[0] ?? (key === 'name' ? 'asc' : 'desc');
  if (order !== 'asc' && order !== 'desc') return { ok: false, reason: 'unknown order (asc or desc)' };
  return { ok: true, sort: { key: key as SortKey, order } };
}

/** The query for a sort, without '?'; empty for the default one. */
export function sortQuery(sort: Sort): string {
  if (sort.key === defaultSort.key && sort.order === defaultSort.order) return '';
  // size and date start with the largest and newest, so only the other order is spelled out
  const natural = sort.key === 'name' ? 'asc' : 'desc';
  return sort.order === natural ? `sort=${sort.key}` : `sort=${sort.key}&order=${sort.order}`;
}

/** What a click on a column heading asks for: the other order of the same column, or that column's natural one. */
export function nextSort(current: Sort, key: SortKey): Sort {
  if (current.key === key) return { key, order: current.order === 'asc' ? 'desc' : 'asc' };
  return { key, order: key === 'name' ? 'asc' : 'desc' };
}

/**
 * Folders first, by name (they have no size or date); then objects. Ties keep
 * S3's key order, so the same page sorts the same way every time.
 */
export function sortListing(page: ListingPage, sort: Sort): ListingPage {
  const sign = sort.order === 'asc' ? 1 : -1;
  const folders = sort.key === 'name' && sort.order === 'desc' ? [...page.folders].reverse() : page.folders;
  let objects: ListedObject[];
  if (sort.key === 'name') {
    objects = sort.order === 'desc' ? [...page.objects].reverse() : page.objects;
  } else {
    const value = (o: ListedObject): number | undefined => (sort.key === 'size' ? o.size : o.lastModified?.getTime());
    objects = [...page.objects].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      // objects without a date go last, whichever the order
      if (x === undefined || y === undefined) return x === y ? 0 : x === undefined ? 1 : -1;
      return (x - y) * sign;
    });
  }
  return { ...page, folders, objects };
}

const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as file managers and S3's console show them: 1234567 → "1.2 MB". */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 999.95 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = value < 100 ? value.toFixed(1).replace(/\.0$/, '') : Math.round(value).toString();
  return `${shown} ${units[unit]}`;
}

/** "2024-05-01 09:30 UTC": the same for every reader, wherever they are. */
export function shortDate(date: Date): string {
  return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export interface Crumb {
  name: string;
  path: string;
}

/** From the top to the folder listed; the last crumb is the folder itself. */
export function breadcrumb(prefix: string): Crumb[] {
  const crumbs: Crumb[] = [{ name: 'Home', path: '/' }];
  if (prefix === '') return crumbs;
  const segments = prefix.slice(0, -1).split('/');
  let key = '';
  for (const segment of segments) {
    key += segment + '/';
    crumbs.push({ name: segment, path: pathForKey(key) });
  }
  return crumbs;
}

export interface ListingJson {
  prefix: string;
  folders: Array<{ name: string; path: string }>;
  objects: Array<{ name: string; path: string; size: number; lastModified: string | null; etag: string | null }>;
  /** the path and query of the next page, or null on the last one */
  nextPage: string | null;
}

/** `page` as sortListing left it; `sort` carries on into the next page's link. */
export function listingJson(page: ListingPage, sort: Sort = defaultSort): ListingJson {
  return {
    prefix: page.prefix,
    folders: page.folders.map((f) => ({ name: f.name, path: pathForKey(f.key) })),
    objects: page.objects.map((o) => ({
      name: o.name,
      path: pathForKey(o.key),
      size: o.size,
      lastModified: o.lastModified?.toISOString() ?? null,
      etag: o.etag ?? null,
    })),
    nextPage: page.nextPageToken === undefined ? null : pathForKey(page.prefix) + nextPageQuery(page.nextPageToken, sort),
  };
}

export interface ListingView {
  /** the token of the page shown; absent on the first page */
  pageToken?: string;
  /** how the rows are sorted (the page is already sorted: see sortListing) */
  sort: Sort;
  /** who is signed in, shown with a sign-out button */
  user?: Identity;
  /** paths of the page's stylesheets (from assets.ts) */
  stylesheets?: string[];
  /** paths of the page's scripts, run in order once the page is parsed */
  scripts?: string[];
  /** the upload area's markup (upload-area.ts), shown above the table */
  uploadArea?: string;
}

/** Where the sign-out form posts to (the same path that GET asks to confirm). */
export const signOutAction = '/__s3proxy/logout';

/** The name a person recognises, and their email when that is not the same. */
export function signedInAs(user: Identity): string {
  const name = user.name.trim();
  if (name === '' || name === user.email) return user.email;
  return user.email === '' ? name : `${name} (${user.email})`;
}

const columns: Array<{ key: SortKey; label: string; className: string }> = [
  { key: 'name', label: 'Name', className: 'name' },
  { key: 'size', label: 'Size', className: 'size' },
  { key: 'date', label: 'Last modified', className: 'date' },
];

/** The page for one listing, sorted as `view.sort` says. */
export function listingHtml(page: ListingPage, view: ListingView): string {
  const crumbs = breadcrumb(page.prefix);
  const here = crumbs[crumbs.length - 1]!;
  const nav = crumbs
    .map((crumb, i) => (i === crumbs.length - 1 ? `<span aria-current="page">${escapeHtml(crumb.name)}</span>` : link(crumb.path, crumb.name)))
    .join(' / ');

  const rows: string[] = [];
  if (crumbs.length > 1) {
    rows.push(`<tr><td class="name">${link(crumbs[crumbs.length - 2]!.path, '↑ Parent folder')}</td><td class="size"></td><td class="date"></td></tr>`);
  }
  for (const folder of page.folders) {
    const text = folder.name + '/';
    rows.push(`<tr><td class="name">${linkable(folder.key) ? link(pathForKey(folder.key), text) : escapeHtml(text)}</td><td class="size">—</td><td class="date"></td></tr>`);
  }
  for (const object of page.objects) {
    const name = linkable(object.key) ? link(pathForKey(object.key), object.name) : escapeHtml(object.name);
    const date = object.lastModified ? `<time datetime="${escapeHtml(object.lastModified.toISOString())}">${escapeHtml(shortDate(object.lastModified))}</time>` : '';
    rows.push(`<tr><td class="name">${name}</td><td class="size">${escapeHtml(humanSize(object.size))}</td><td class="date">${date}</td></tr>`);
  }
  const empty = page.folders.length === 0 && page.objects.length === 0 ? '<p class="empty">This folder is empty.</p>\n' : '';
  const more: string[] = [];
  if (view.pageToken !== undefined) more.push(link(here.path + withQuery(sortQuery(view.sort)), 'First page'));
  if (page.nextPageToken !== undefined) more.push(`<a href="${escapeHtml(nextPageQuery(page.nextPageToken, view.sort))}" rel="next">Next page</a>`);

  // Sorting re-sorts the page being looked at, so a heading keeps its page token.
  const token = view.pageToken;
  const headings = columns
    .map(({ key, label, className }) => {
      const target = nextSort(view.sort, key);
      const query = [token === undefined ? '' : `${pageParameter}=${encodeURIComponent(token)}`, sortQuery(target)].filter((q) => q !== '').join('&');
      const current = view.sort.key === key;
      const ariaSort = current ? ` aria-sort="${view.sort.order === 'asc' ? 'ascending' : 'descending'}"` : '';
      const arrow = current ? (view.sort.order === 'asc' ? ' ▲' : ' ▼') : '';
      return `<th class="${className}"${ariaSort}><a href="${escapeHtml(here.path + withQuery(query))}">${escapeHtml(label + arrow)}</a></th>`;
    })
    .join('');

  const session = view.user
    ? `<header class="session"><span class="user">Signed in as ${escapeHtml(signedInAs(view.user))}</span>` +
      `<form method="post" action="${signOutAction}"><button type="submit">Sign out</button></form></header>\n`
    : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml('/' + page.prefix)}</title>
${(view.stylesheets ?? []).map((href) => `<link rel="stylesheet" href="${escapeHtml(href)}">\n`).join('')}</head><body>
${session}<nav aria-label="Breadcrumb">${nav}</nav>
<h1>${escapeHtml('/' + page.prefix)}</h1>
${view.uploadArea ?? ''}<div id="listing">
<table>
<thead><tr>${headings}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
${empty}${more.length > 0 ? `<p class="more">${more.join(' · ')}</p>\n` : ''}</div>
${(view.scripts ?? []).map((src) => `<script src="${escapeHtml(src)}" defer></script>\n`).join('')}</body></html>
`;
}

function withQuery(query: string): string {
  return query === '' ? '' : '?' + query;
}

function link(path: string, text: string): string {
  return `<a href="${escapeHtml(path)}">${escapeHtml(text)}</a>`;
}
