import test from 'ava';
import { releaseMemoryWhenIdle } from '../../src/lifecycle/release-memory-when-idle.ts';

const harness = () => {
  const counts = { started: 0, inFlight: 0, releases: 0 };
  const idle = releaseMemoryWhenIdle({
    everyMs: 60_000, // the test calls check() itself
    requestsStarted: () => counts.started,
    requestsInFlight: () => counts.inFlight,
    release: () => (counts.releases += 1),
  });
  return { counts, idle };
};

test('memory is released once when a busy spell is followed by a quiet one, not again until there was activity', (t) => {
  const { counts, idle } = harness();
  try {
    idle.check();
    t.is(counts.releases, 0, 'a proxy that never served anything has nothing to give back');
    counts.started += 50;
    idle.check();
    t.is(counts.releases, 0, 'requests started in this spell: busy');
    idle.check();
    t.is(counts.releases, 1, 'a quiet spell after a busy one releases');
    idle.check();
    idle.check();
    t.is(counts.releases, 1, 'quiet spells after that do nothing');
    counts.started += 1;
    idle.check();
    idle.check();
    t.is(counts.releases, 2, 'the next busy spell earns the next release');
  } finally {
    idle.stop();
  }
});

test('a response still in flight keeps the proxy busy although no request started', (t) => {
  const { counts, idle } = harness();
  try {
    counts.started += 1;
    counts.inFlight = 1;
    idle.check();
    idle.check();
    idle.check();
    t.is(counts.releases, 0, 'a long download is not interrupted by a collection');
    counts.inFlight = 0;
    idle.check();
    t.is(counts.releases, 1);
  } finally {
    idle.stop();
  }
});
