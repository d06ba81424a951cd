// Many clients each reading one large object slowly: the proxy must hold
// them all with bounded memory, since backpressure keeps each transfer's
// bytes in S3 and in socket buffers rather than in the proxy's heap.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SlowClientsOptions {
  url: string;
  headers: Record<string, string>;
  clients: number;
  bytesPerSecond: number;
  durationS: number;
  /** clients opened per 100 ms while ramping up */
  rampPer100Ms?: number;
  /** how long to wait, after opening them all, for every client's response headers */
  headersWithinS?: number;
  /** the last seconds of the run in which every streaming client must still receive bytes (default 5) */
  tailS?: number;
}

export interface SlowClientsResult {
  clients: number;
  /** answered 200 and were reading when the phase ended */
  streaming: number;
  /** never saw response headers */
  waitingForHeaders: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  /** what the clients received in total, and per streaming client per second */
  receivedBytes: number;
  meanRateBytesPerS: number;
  /** time from the first request to the last client's headers */
  allHeadersWithinMs: number | null;
  /** how long all of them were held open after the last headers (or the wait gave up) */
  heldForMs: number;
  /** streaming clients that received bytes in the last `tailS` seconds of the run: a stalled transfer is not served */
  receivingAtEnd: number;
  tailS: number;
}

interface Client {
  request: http.ClientRequest;
  startedAt: number;
  headersAt?: number;
  status?: number;
  received: number;
  /** what it had received when the last `tailS` seconds began */
  receivedBeforeTail?: number;
  error?: string;
}

export async function runSlowClients(options: SlowClientsOptions): Promise<SlowClientsResult> {
  const ramp = options.rampPer100Ms ?? 100;
  const clients: Client[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stopping = false;
  const phaseStarted = performance.now();

  const open = (): Client => {
    const client = { startedAt: performance.now(), received: 0 } as Client;
    client.request = http.get(options.url, { headers: options.headers, agent: false }, (response) => {
      client.headersAt = performance.now();
      client.status = response.statusCode;
      response.on('data', (chunk: Buffer) => {
        client.received += chunk.length;
        // Read no faster than the rate allows: pause until the budget catches up.
        const allowed = (options.bytesPerSecond * (performance.now() - client.headersAt!)) / 1000;
        if (client.received > allowed && !stopping) {
          response.pause();
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!stopping) response.resume();
          }, ((client.received - allowed) / options.bytesPerSecond) * 1000);
          timers.add(timer);
        }
      });
      response.on('error', (error) => (client.error ??= (error as NodeJS.ErrnoException).code ?? error.message));
    });
    client.request.on('error', (error) => {
      if (!stopping) client.error ??= (error as NodeJS.ErrnoException).code ?? error.message;
    });
    return client;
  };

  while (clients.length < options.clients) {
    const n = Math.min(ramp, options.clients - clients.length);
    for (let i = 0; i < n; i += 1) clients.push(open());
    await sleep(100);
  }
  // S3 may take a while to start a thousand downloads: the clock starts once all have.
  const headersBy = performance.now() + (options.headersWithinS ?? 60) * 1000;
  while (performance.now() < headersBy && clients.some((c) => c.headersAt === undefined && !c.error)) await sleep(250);
  const holdFrom = performance.now();
  const tailS = Math.min(options.tailS ?? 5, options.durationS);
  await sleep((options.durationS - tailS) * 1000);
  for (const client of clients) client.receivedBeforeTail = client.received;
  await sleep(tailS * 1000);
  const endedAt = performance.now();

  stopping = true;
  for (const timer of timers) clearTimeout(timer);
  for (const client of clients) client.request.destroy();

  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let streaming = 0;
  let waiting = 0;
  let received = 0;
  let streamingSeconds = 0;
  let lastHeaders = 0;
  let receivingAtEnd = 0;
  for (const client of clients) {
    received += client.received;
    if (client.error) errors[client.error] = (errors[client.error] ?? 0) + 1;
    if (client.status === undefined) {
      waiting += 1;
      continue;
    }
    statuses[client.status] = (statuses[client.status] ?? 0) + 1;
    lastHeaders = Math.max(lastHeaders, client.headersAt! - phaseStarted);
    if (client.status === 200 && !client.error) {
      streaming += 1;
      if (client.received > (client.receivedBeforeTail ?? 0)) receivingAtEnd += 1;
      streamingSeconds += (endedAt - client.headersAt!) / 1000;
    }
  }
  return {
    clients: clients.length,
    streaming,
    waitingForHeaders: waiting,
    statuses,
    errors,
    receivedBytes: received,
    meanRateBytesPerS: streamingSeconds > 0 ? Math.round(received / streamingSeconds) : 0,
    allHeadersWithinMs: waiting === 0 ? Math.round(lastHeaders) : null,
    heldForMs: Math.round(endedAt - holdFrom),
    receivingAtEnd,
    tailS,
  };
}
