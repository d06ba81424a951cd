// An HTTP relay in front of the real S3 server that records every request
// S3 receives, so that a test says which keys S3 was asked for from S3's side
// of the wire, never from the proxy's own logs. Requests and responses pass
// through unchanged (raw headers, so SigV4 signatures still verify); only the
// request line is written down.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** the request-target exactly as S3 received it */
  target: string;
}

/** What one request asked S3 for, in S3's terms (path-style addressing). */
export type S3Ask =
  | { kind: 'object'; method: string; key: string }
  | { kind: 'list'; method: string; prefix: string }
  /** HEAD of the bucket itself */
  | { kind: 'bucket'; method: string };

export interface S3Recorder {
  port: number;
  url: string;
  requests(): RecordedRequest[];
  /** what each request for `bucket` asked for; requests for other buckets are left out */
  asked(bucket: string): S3Ask[];
  clear(): void;
  close(): Promise<void>;
}

/** Percent-decoding as S3 does it: `+` is a plus, not a space. */
function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return `<malformed ${text}>`;
  }
}

function queryParameter(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const [key, value = ''] = pair.split('=', 2) as [string, string?];
    if (decode(key) === name) return decode(value);
  }
  return undefined;
}

export function parseAsk(bucket: string, request: RecordedRequest): S3Ask | undefined {
  const queryAt = request.target.indexOf('?');
  const path = queryAt === -1 ? request.target : request.target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : request.target.slice(queryAt + 1);
  const root = `/${encodeURIComponent(bucket)}`;
  if (path === root || path === `${root}/`) {
    // HEAD of the bucket (readiness) reads nothing; anything else at the root
    // is a listing, of the whole bucket when it names no prefix
    return request.method === 'HEAD'
      ? { kind: 'bucket', method: request.method }
      : { kind: 'list', method: request.method, prefix: queryParameter(query, 'prefix') ?? '' };
  }
  if (!path.startsWith(`${root}/`)) return undefined;
  return { kind: 'object', method: request.method, key: decode(path.slice(root.length + 1)) };
}

export async function startS3Recorder(target: { host: string; port: number }): Promise<S3Recorder> {
  let recorded: RecordedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    recorded.push({ method: request.method ?? '', target: request.url ?? '' });
    // the response carries S3's own headers, and no Date of the relay's
    response.sendDate = false;
    const upstream = http.request(
      { host: target.host, port: target.port, method: request.method, path: request.url, headers: request.rawHeaders, agent },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        answer.pipe(response);
        answer.on('error', () => response.destroy());
      },
    );
    upstream.on('error', () => response.destroy());
    request.pipe(upstream);
    // the proxy leaving (a client that went away) cancels the request to S3
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests: () => [...recorded],
    asked: (bucket) => recorded.map((r) => parseAsk(bucket, r)).filter((a): a is S3Ask => a !== undefined),
    clear() {
      recorded = [];
    },
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
