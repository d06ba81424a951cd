// The relay the fault tests break S3's wire with, checked against a plain TCP
// echo server: a freeze holds bytes and a thaw delivers every one in order,
// a kill refuses connections until revive, and the byte count is exact.
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTcpRelay, type TcpRelay } from './tcp-relay.ts';

let server: net.Server;
let relay: TcpRelay;

test.before(async () => {
  // answers every chunk with the same bytes, so what arrives can be compared
  server = net.createServer((socket) => socket.pipe(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relay = await startTcpRelay({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
});

test.after.always(async () => {
  await relay?.close();
  await new Promise((resolve) => server?.close(resolve));
});

/** A connection through the relay that collects whatever comes back. */
async function connect(): Promise<{ socket: net.Socket; received: () => Buffer }> {
  const socket = net.connect(relay.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { socket, received: () => Buffer.concat(chunks) };
}

const pattern = (size: number, offset: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + offset) & 0xff));

test.serial('a frozen relay holds bytes in both directions and a thaw delivers every one, in order', async (t) => {
  const { socket, received } = await connect();
  const before = pattern(1000, 1);
  socket.write(before);
  for (let i = 0; i < 100 && received().length < before.length; i += 1) await sleep(10);
  t.true(received().equals(before), 'the relay relays while not frozen');

  relay.freeze();
  // more than one socket buffer's worth, so that held bytes pile up on both sides
  const during = pattern(4 * 1024 * 1024, 3);
  socket.write(during);
  await sleep(300);
  t.is(received().length, before.length, 'nothing passes while frozen');

  relay.thaw();
  const expected = Buffer.concat([before, during]);
  for (let i = 0; i < 500 && received().length < expected.length; i += 1) await sleep(10);
  t.is(received().length, expected.length);
  t.true(received().equals(expected), 'every held byte arrives, in order');
  socket.destroy();
});

test.serial('a connection opened while frozen is accepted and served only after the thaw', async (t) => {
  relay.freeze();
  try {
    const { socket, received } = await connect();
    socket.write('hello');
    await sleep(300);
    t.is(received().length, 0);
    relay.thaw();
    for (let i = 0; i < 100 && received().length < 5; i += 1) await sleep(10);
    t.is(received().toString(), 'hello');
    socket.destroy();
  } finally {
    relay.thaw();
  }
});

test.serial('bytesToClient counts what the server sent towards the client', async (t) => {
  const start = relay.bytesToClient();
  const { socket, received } = await connect();
  socket.write(pattern(12345, 5));
  for (let i = 0; i < 100 && received().length < 12345; i += 1) await sleep(10);
  t.is(relay.bytesToClient() - start, 12345);
  socket.destroy();
});

test.serial('a killed relay cuts its connections and refuses new ones until revived on the same port', async (t) => {
  const { socket } = await connect();
  const closed = once(socket, 'close');
  await relay.kill();
  await closed;
  const refused = await new Promise<string>((resolve) => {
    const probe = net.connect(relay.port, '127.0.0.1');
    probe.once('connect', () => (probe.destroy(), resolve('connected')));
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
  t.is(refused, 'ECONNREFUSED');
  await relay.revive();
  const again = await connect();
  again.socket.write('back');
  for (let i = 0; i < 100 && again.received().length < 4; i += 1) await sleep(10);
  t.is(again.received().toString(), 'back');
  again.socket.destroy();
});
