import test from 'ava';
import type { IncomingMessage } from 'node:http';
import { DRAIN_REFUSED_BYTES, worthDraining } from '../../src/shared/refused-body.ts';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('a refused body of up to 1 MiB still to come is worth reading and dropping', (t) => {
  t.true(worthDraining(request({ 'content-length': String(DRAIN_REFUSED_BYTES) })));
  t.true(worthDraining(request({ 'content-length': String(DRAIN_REFUSED_BYTES + 100) }), 100));
  t.true(worthDraining(request({ 'content-length': '0' })));
});

test('a longer body, or one of unknown length (chunked), is not: the connection is closed instead', (t) => {
  t.false(worthDraining(request({ 'content-length': String(DRAIN_REFUSED_BYTES + 1) })));
  t.false(worthDraining(request({ 'content-length': String(DRAIN_REFUSED_BYTES + 101) }), 100));
  t.false(worthDraining(request({ 'transfer-encoding': 'chunked' })));
});
