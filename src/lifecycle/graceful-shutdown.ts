// SIGTERM and SIGINT: stop accepting at once, let every response in flight
// finish, answer requests that still arrive on open connections (with
// `connection: close`), then close what is idle and exit 0. A deadline cuts
// what is left and exits 1.
import net from 'node:net';
import type { Server } from 'node:http';
import type { Logger } from '../observability/logger.ts';

export interface ShutdownOptions {
  timeoutMs: number;
  logger: Logger;
  /** releases Redis, the S3 pool and the like, once nothing is in flight */
  release: () => Promise<void>;
  exit?: (code: number) => void;
  /** called the moment draining starts (readiness turns 503) */
  onDraining?: () => void;
}

export interface Lifecycle {
  readonly draining: boolean;
  inFlight(): number;
  /** requests started since start-up (a counter that only grows) */
  requestsStarted(): number;
  /** what a signal does; exposed for tests in-process */
  shutdown(signal: string): void;
}

export function manageLifecycle(server: Server, options: ShutdownOptions): Lifecycle {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let draining = false;
  let inFlight = 0;
  let started = 0;
  let finished = false;

  const finish = async (code: number) => {
    if (finished) return;
    finished = true;
    server.closeAllConnections();
    try {
      await options.release();
    } catch (error) {
      options.logger.warn({ err: { message: (error as Error).message } }, 'release after shutdown failed');
    }
    options.logger.info({ code }, 'stopped');
    exit(code);
  };

  // A connection that races with the signal is refused rather than served.
  server.on('connection', (socket) => {
    if (draining) socket.destroy();
  });

  server.on('request', (_req, res) => {
    started += 1;
    inFlight += 1;
    if (draining && !res.headersSent) res.setHeader('connection', 'close');
    res.once('close', () => {
      inFlight -= 1;
      if (draining && inFlight === 0) void finish(0);
    });
  });

  const shutdown = (signal: string) => {
    if (draining) return;
    draining = true;
    options.onDraining?.();
    options.logger.info({ signal, inFlight }, 'shutting down: no new connections, draining');
    // http.Server#close would also close idle keep-alive connections; they
    // stay open while anything is in flight, so close only the listener.
    net.Server.prototype.close.call(server);
    if (inFlight === 0) {
      void finish(0);
      return;
    }
    setTimeout(() => {
      if (finished) return;
      options.logger.error({ cut: inFlight }, 'shutdown deadline passed: cutting responses still in flight');
      void finish(1);
    }, options.timeoutMs);
  };

  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  return {
    get draining() {
      return draining;
    },
    inFlight: () => inFlight,
    requestsStarted: () => started,
    shutdown,
  };
}
