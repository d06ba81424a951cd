import test from 'ava';
import { onceUntilFailure } from '../../src/shared/once-until-failure.ts';

test('callers at the same moment share one making, and later callers get the same value without another', async (t) => {
  let made = 0;
  const get = onceUntilFailure(async () => {
    made += 1;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return { n: made };
  });
  const [a, b] = await Promise.all([get(), get()]);
  const c = await get();
  t.is(made, 1);
  t.is(a, b);
  t.is(a, c);
});

test('a failed making is tried again by the next caller, and its callers all see the failure', async (t) => {
  let attempts = 0;
  const get = onceUntilFailure(async () => {
    attempts += 1;
    if (attempts === 1) throw new Error('not yet');
    return 'ready';
  });
  const [first, second] = await Promise.allSettled([get(), get()]);
  t.is(first.status, 'rejected');
  t.is(second.status, 'rejected');
  t.is(await get(), 'ready');
  t.is(await get(), 'ready');
  t.is(attempts, 2);
});
