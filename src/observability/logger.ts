// One JSON line per event on stdout. Secrets never reach the logger: the
// redaction below is a second line of defence, not the first.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 's3proxy' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      // Named paths, not wildcards: a wildcard redaction walks every log line.
      paths: ['cookie', 'authorization', 'accessToken', 'token', 'secret', 'headers.cookie', 'headers.authorization'],
      censor: '[redacted]',
    },
  });
}
