// One JSON line per event on stdout. Secrets never reach the logger: the
// redaction below is a second line of defence, not the first.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 's3proxy' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        // Named paths, not wildcards: a wildcard redaction walks every log line.
        paths: ['cookie', 'authorization', 'accessToken', 'token', 'secret', 'headers.cookie', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    // Each line written as it is logged. pino's default buffers lines and
    // flushes them at exit; when stdout's reader had gone, that flush
    // (sonic-boom 4) retried the write every 100 ms forever, and the proxy
    // never exited. Written at once, a broken pipe stops the logging instead,
    // and a log reader that falls behind slows the proxy rather than growing
    // an unbounded buffer in it.
    pino.destination({ dest: 1, sync: true }),
  );
}
