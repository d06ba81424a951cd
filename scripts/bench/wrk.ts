// wrk as the load generator: C, so on a small machine the load generator
// takes as little CPU from the proxy and S3 as possible. A Lua script sets
// the headers (from the environment, so a session cookie never appears on a
// command line) and prints wrk's own summary as one JSON line.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface WrkRequest {
  /** origin-form path with query */
  path: string;
  headers?: Record<string, string>;
  /** leave out the shared headers (the cookie), to ask as a stranger */
  bare?: boolean;
}

export interface WrkOptions {
  /** scheme, host and port (and, without `requests`, the path) */
  url: string;
  connections: number;
  threads?: number;
  durationS: number;
  timeoutS?: number;
  /** sent with every request */
  headers?: Record<string, string>;
  /** a mix to cycle through instead of the url's path */
  requests?: WrkRequest[];
}

export interface WrkResult {
  connections: number;
  durationS: number;
  requests: number;
  bytes: number;
  requestsPerS: number;
  mbPerS: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
}

// Tab and newline separate fields and requests: neither can occur in a
// header value or an origin-form path.
const luaScript = `
local function split(s, sep)
  local out = {}
  for part in (s or ""):gmatch("[^" .. sep .. "]+") do out[#out + 1] = part end
  return out
end

local shared = {}
for _, line in ipairs(split(os.getenv("BENCH_HEADERS"), "\\n")) do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then shared[name] = value; wrk.headers[name] = value end
end

local prepared = {}
local counter = 0

function init(args)
  for _, entry in ipairs(split(os.getenv("BENCH_REQUESTS"), "\\n")) do
    local fields = split(entry, "\\t")
    local headers = {}
    local bare = false
    for i = 2, #fields do
      if fields[i] == "!bare" then bare = true else
        local name, value = fields[i]:match("^([^:]+):%s*(.*)$")
        if name then headers[name] = value end
      end
    end
    if not bare then for k, v in pairs(shared) do if headers[k] == nil then headers[k] = v end end end
    prepared[#prepared + 1] = wrk.format("GET", fields[1], headers)
  end
end

if (os.getenv("BENCH_REQUESTS") or "") ~= "" then
  function request()
    counter = counter + 1
    return prepared[(counter % #prepared) + 1]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"duration_us":%d,"requests":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

let scriptPath: string | undefined;
function script(dir: string): string {
  if (!scriptPath) {
    mkdirSync(dir, { recursive: true });
    scriptPath = join(dir, `wrk-${process.pid}.lua`);
    writeFileSync(scriptPath, luaScript);
  }
  return scriptPath;
}

export function removeWrkScript(): void {
  if (scriptPath) rmSync(scriptPath, { force: true });
  scriptPath = undefined;
}

function headerLines(headers: Record<string, string> = {}): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}`)
    .join('\n');
}

export async function runWrk(options: WrkOptions, workDir: string): Promise<WrkResult> {
  const threads = Math.max(1, Math.min(options.threads ?? 2, options.connections));
  const args = [
    '-t', String(threads),
    '-c', String(options.connections),
    '-d', `${options.durationS}s`,
    '--timeout', `${options.timeoutS ?? 10}s`,
    '-s', script(workDir),
    options.url,
  ];
  const requests = (options.requests ?? [])
    .map((r) => [r.path, ...(r.bare ? ['!bare'] : []), ...Object.entries(r.headers ?? {}).map(([n, v]) => `${n}: ${v}`)].join('\t'))
    .join('\n');
  const child = spawn('wrk', args, {
    env: { PATH: process.env.PATH, BENCH_HEADERS: headerLines(options.headers), BENCH_REQUESTS: requests },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (code !== 0 || !line) throw new Error(`wrk exited ${code}: ${err.trim() || out.trim()}`);
  const raw = JSON.parse(line.slice('BENCHJSON '.length)) as {
    duration_us: number;
    requests: number;
    bytes: number;
    errors: WrkResult['errors'];
    latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
  };
  const seconds = raw.duration_us / 1e6;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    connections: options.connections,
    durationS: Math.round(seconds * 100) / 100,
    requests: raw.requests,
    bytes: raw.bytes,
    requestsPerS: Math.round(raw.requests / seconds),
    mbPerS: Math.round((raw.bytes / seconds / (1024 * 1024)) * 10) / 10,
    errors: raw.errors,
    latencyMs: {
      mean: ms(raw.latency_us.mean),
      p50: ms(raw.latency_us.p50),
      p90: ms(raw.latency_us.p90),
      p99: ms(raw.latency_us.p99),
      max: ms(raw.latency_us.max),
    },
  };
}

export function wrkErrors(result: WrkResult): number {
  const e = result.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}
