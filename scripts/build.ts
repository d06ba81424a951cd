// The build: type-check src/ (tsc, which emits nothing), then bundle the
// proxy into dist/ with esbuild, and the command-line client into dist/cli/.
//   node scripts/build.ts
//
// Why a bundle and not tsc's one file per module: Node's module loader,
// resolving and reading some 370 files at start-up, gets hot enough for V8
// to compile it with its optimizing compilers, whose code pages then stay
// resident. A proxy started from the bundle held about 5 MB less before its
// first request (77.5 against 83 MB, README, Performance).
//
// The settings each have a measured reason:
// - splitting: what main.ts imports with import() (the S3 client and the
//   listing, upload and metrics code) stays in files of its own, loaded on
//   first use as before; they are named after their module (routes-<hash>.js).
// - @aws-sdk/* stays in node_modules: the credential providers load their
//   STS/SSO clients with import() only when they need them, and esbuild,
//   bundling that CommonJS, turns those into requires in chunks loaded at
//   start-up (2 MB more before the first request).
// - whitespace and syntax minified: the unminified bundle held 4 to 5 MB
//   more (V8 keeps every script's source). Identifiers are not mangled.
// - names not kept (esbuild's keepNames): it wraps every function, closures
//   made per request included, in a call that redefines its `name`, and with
//   it the proxy answered small GETs later (p50 at 1 connection after a large
//   load: +0.73 against +0.47 ms over direct, CPU 0.72 against 0.51 ms per
//   request, 7 alternating rounds). Without it esbuild renames a top-level
//   name that two modules share (ioredis's Cluster, undici's Headers become
//   Cluster2, Headers2); what reads class names at run time was checked:
//   ioredis's pipeline falls back to `isCluster`, undici compares a class
//   with itself, jose's error classes keep their names.
// - source maps next to each file: `node --enable-source-maps` maps stack
//   traces back to src/; without the flag Node never reads them.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;

execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
// src/http/assets.ts finds its files in ./assets/ next to whichever bundle
// file it ended up in; all of them are in dist/ itself.
cpSync(`${root}src/http/assets`, `${dist}/assets`, { recursive: true });

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  sourcemap: 'linked',
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  // CommonJS dependencies call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __s3proxyCreateRequire } from 'node:module'; const require = __s3proxyCreateRequire(import.meta.url);" },
};

await build({
  ...common,
  entryPoints: [`${root}src/main.ts`],
  outdir: dist,
  splitting: true,
  entryNames: '[name]',
  chunkNames: '[name]-[hash]',
  external: ['@aws-sdk/*'],
});

// The client's memory does not matter; only its own modules are bundled.
await build({
  ...common,
  entryPoints: [`${root}src/cli/s3proxy.ts`],
  outfile: `${dist}/cli/s3proxy.js`,
  packages: 'external',
});

// demo.sh rebuilds when a source file is newer than this.
writeFileSync(`${dist}/.built`, '');
