// A request id for every response and log line: the caller's, when it sent a
// sane one (a load balancer's trace id), else a fresh one.
import { randomUUID } from 'node:crypto';

const wellFormed = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFrom(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && wellFormed.test(incoming) ? incoming : randomUUID();
}
