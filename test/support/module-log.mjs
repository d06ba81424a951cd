// Loaded into a proxy with NODE_OPTIONS=--import=<this file>: appends the URL
// of every module the process loads to $S3PROXY_TEST_MODULE_LOG, so that a
// test can see what was loaded at start-up and what only on first use.
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.S3PROXY_TEST_MODULE_LOG;
if (file) {
  registerHooks({
    load(url, context, nextLoad) {
      appendFileSync(file, url + '\n');
      return nextLoad(url, context);
    },
  });
}
