// A TCP relay between the proxy and the real S3 server, so that tests can
// break the network the way production breaks it: cut connections mid-body,
// hold bytes back (a frozen server), take the server away, and count the
// bytes S3 has handed to the proxy. S3 itself stays real; only the wire is
// tampered with.
import net from 'node:net';

export interface TcpRelay {
  port: number;
  url: string;
  /** connections from the proxy currently open */
  open(): number;
  /** how many connections the proxy has closed (or lost) so far */
  closedByClient(): number;
  /**
   * Bytes of S3's responses handed to the proxy's side of the wire so far:
   * written into the kernel towards the proxy, not sitting in the relay.
   */
  bytesToClient(): number;
  /** destroys every relayed connection, both sides */
  cutAll(): void;
  /**
   * S3 appears frozen (as under SIGSTOP): nothing is relayed in either
   * direction and new connections are accepted but not served. Bytes are
   * held, never dropped: thaw() delivers them in order.
   */
  freeze(): void;
  thaw(): void;
  /**
   * S3 appears killed: every connection is cut and new ones are refused
   * (nothing listens on the port) until revive().
   */
  kill(): Promise<void>;
  /** listens on the same port again, as a restarted server would */
  revive(): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const pairs = new Set<Pair>();
  let frozen = false;
  let closedByClient = 0;
  let bytesToClient = 0;

  /** Copies `from` to `to` with backpressure; a frozen relay leaves `from` paused. */
  const forward = (from: net.Socket, to: net.Socket, flushed?: (bytes: number) => void) => {
    from.on('data', (chunk: Buffer) => {
      // the callback runs once the chunk has left for the kernel
      const written = to.write(chunk, (error) => {
        if (!error) flushed?.(chunk.length);
      });
      if (!written) {
        from.pause();
        to.once('drain', () => {
          if (!frozen) from.resume();
        });
      }
    });
    from.on('end', () => to.end());
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    if (frozen) {
      client.pause();
      upstream.pause();
    }
    forward(client, upstream);
    forward(upstream, client, (bytes) => (bytesToClient += bytes));
    client.on('close', () => {
      closedByClient += 1;
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const cutAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    open: () => pairs.size,
    closedByClient: () => closedByClient,
    bytesToClient: () => bytesToClient,
    cutAll,
    freeze() {
      frozen = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const { client, upstream } of pairs) {
        // a side still waiting for 'drain' pauses itself again on its next write
        client.resume();
        upstream.resume();
      }
    },
    async kill() {
      // close() waits for open connections, so stop listening first, then cut
      const closed = stopListening();
      cutAll();
      await closed;
    },
    async revive() {
      if (!server.listening) await listen(port);
    },
    async close() {
      const closed = stopListening();
      cutAll();
      await closed;
    },
  };
}
