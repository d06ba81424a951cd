// A TCP relay between the proxy and the real S3 server, so that tests can
// break the network the way production breaks it: cut connections mid-body,
// or hold responses back. S3 itself stays real; only the wire is tampered with.
import net from 'node:net';

export interface TcpRelay {
  port: number;
  url: string;
  /** connections from the proxy currently open */
  open(): number;
  /** how many connections the proxy has closed (or lost) so far */
  closedByClient(): number;
  /** destroys every relayed connection, both sides */
  cutAll(): void;
  /** stops relaying S3's bytes to the proxy (S3 appears frozen) */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let frozen = false;
  let closedByClient = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (frozen) return;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    upstream.on('end', () => client.end());
    client.on('close', () => {
      closedByClient += 1;
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
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
    cutAll,
    freeze() {
      frozen = true;
    },
    thaw() {
      frozen = false;
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
