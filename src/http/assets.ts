// The proxy's own static files: Uppy's prebuilt bundle and stylesheet from
// the `uppy` package, and the listing's stylesheet and upload script. Each is
// read into memory once, at first use, and served under a name carrying a
// hash of its content, so browsers may keep it for a year: a new version has
// a new name. Nothing on a listing page comes from another origin.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Context } from 'koa';
import { HttpProblem } from '../shared/http-problem.ts';
import type { RequestState } from '../shared/request-state.ts';
import { onceUntilFailure } from '../shared/once-until-failure.ts';

export const assetsPath = '/__s3proxy/assets/';

/** The files there are, by the stable name the pages ask for. */
export type AssetName = 'uppy.js' | 'uppy.css' | 'listing.css' | 'upload-page.js';

const require = createRequire(import.meta.url);
// The build copies src/http/assets/ to dist/assets/, next to every file of
// the bundle (scripts/build.ts); from src/ (tests) it is the folder beside this one.
const own = (file: string): string => fileURLToPath(new URL(`./assets/${file}`, import.meta.url));

const sources: Record<AssetName, () => string> = {
  'uppy.js': () => require.resolve('uppy/dist/uppy.min.js'),
  'uppy.css': () => require.resolve('uppy/dist/uppy.min.css'),
  'listing.css': () => own('listing.css'),
  'upload-page.js': () => own('upload-page.js'),
};

export interface Asset {
  /** the hashed file name, e.g. uppy-3f2a….js */
  fileName: string;
  type: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

export interface AssetCatalog {
  /** the path a page links to */
  url(name: AssetName): string;
  /** the file behind a hashed name, if it is one of ours */
  byFileName(fileName: string): Asset | undefined;
}

const types: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** `uppy.js` with this content → `uppy-<16 hex digits of its SHA-256>.js`. Pure. */
export function hashedFileName(name: string, content: Buffer): string {
  const dot = name.lastIndexOf('.');
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
  return `${name.slice(0, dot)}-${hash}${name.slice(dot)}`;
}

/**
 * The packaged bundles end with a source-map comment naming a file that is
 * not served; without it, opening the browser's tools does not log a 404.
 * Pure.
 */
export function withoutSourceMapComment(content: Buffer): Buffer {
  const text = content.toString('utf8');
  const stripped = text.replace(/\n?(?:\/\/# sourceMappingURL=[^\n]*|\/\*# sourceMappingURL=[^*]*\*\/)\s*$/, '\n');
  return stripped === text ? content : Buffer.from(stripped, 'utf8');
}

export function catalogOf(files: Array<{ name: AssetName; content: Buffer }>): AssetCatalog {
  const byName = new Map<AssetName, Asset>();
  const byFile = new Map<string, Asset>();
  for (const { name, content } of files) {
    const body = withoutSourceMapComment(content);
    const fileName = hashedFileName(name, body);
    const asset: Asset = {
      fileName,
      type: types[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream',
      body,
      gzipped: gzipSync(body, { level: 9 }),
      etag: `"${fileName}"`,
    };
    byName.set(name, asset);
    byFile.set(fileName, asset);
  }
  return {
    url(name) {
      const asset = byName.get(name);
      if (!asset) throw new Error(`no asset named ${name}`);
      return assetsPath + asset.fileName;
    },
    byFileName: (fileName) => byFile.get(fileName),
  };
}

/**
 * Every asset, read and compressed once per process. A failure is not kept:
 * a later request may find the files (a deploy still unpacking).
 */
export const assets: () => Promise<AssetCatalog> = onceUntilFailure(async () =>
  catalogOf(await Promise.all((Object.keys(sources) as AssetName[]).map(async (name) => ({ name, content: await readFile(sources[name]()) })))),
);

/** A year, the longest that caches honour; `immutable`: no revalidation on reload. */
export const assetCacheControl = 'public, max-age=31536000, immutable';

/** GET and HEAD of /__s3proxy/assets/<name>-<hash>.<ext>; no sign-in (nothing in them is private). */
export async function serveAsset(ctx: Context, fileName: string): Promise<void> {
  (ctx.state as RequestState).route = 'asset';
  const catalog = await assets().catch((error: unknown) => {
    throw new HttpProblem(500, `assets could not be read: ${(error as Error).message}`);
  });
  const asset = catalog.byFileName(fileName);
  // An old hash after a deploy is gone for good; a cache must not keep the 404 for a year.
  if (!asset) throw new HttpProblem(404, 'no such asset');
  ctx.status = 200;
  ctx.vary('accept-encoding');
  ctx.set('cache-control', assetCacheControl);
  ctx.set('x-content-type-options', 'nosniff');
  ctx.set('cross-origin-resource-policy', 'same-origin');
  ctx.set('etag', asset.etag);
  ctx.type = asset.type;
  if (ctx.fresh) {
    ctx.status = 304;
    return;
  }
  if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
    ctx.set('content-encoding', 'gzip');
    ctx.body = asset.gzipped;
  } else {
    ctx.body = asset.body;
  }
}
