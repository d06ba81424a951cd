import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer } from 'node:net';

/**
 * Asks the OS for a currently free TCP port on 127.0.0.1 (listen on port 0,
 * read the port, close). There is an unavoidable small race between closing
 * and the caller binding it; prefer listening on port 0 directly where the
 * port need not be known in advance.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/**
 * An HTTP server on 127.0.0.1 that can be taken down (refusing connections,
 * with open keep-alive connections destroyed) and brought back on the same
 * port. Used by the test identity providers.
 */
export interface RestartableListener {
  readonly port: number;
  readonly up: boolean;
  /** Stops listening and destroys open connections: new requests get ECONNREFUSED. */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  close(): Promise<void>;
}

export async function listenRestartable(handler: RequestListener, port = 0): Promise<RestartableListener> {
  let server: Server | undefined;
  let boundPort = port;

  const start = async (): Promise<void> => {
    const next = createHttpServer(handler);
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(boundPort, '127.0.0.1', () => {
        next.off('error', reject);
        resolve();
      });
    });
    const address = next.address();
    if (address === null || typeof address === 'string') throw new Error('unexpected server address');
    boundPort = address.port;
    server = next;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    if (!current) return;
    server = undefined;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    current.closeAllConnections();
    await closed;
    // Let in-process clients notice their pooled connections were closed, so that their
    // next request opens a new connection (ECONNREFUSED) instead of failing on a dead socket.
    await new Promise((resolve) => setTimeout(resolve, 25));
  };

  await start();

  return {
    get port() {
      return boundPort;
    },
    get up() {
      return server !== undefined;
    },
    goDown: stop,
    async comeBack() {
      if (!server) await start();
    },
    close: stop,
  };
}
