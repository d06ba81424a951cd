// The signer's SHA-256 must hash exactly as the SDK's own (@smithy/hash-node)
// does, for every input shape the signer hands it: only the cost differs.
import test from 'ava';
import { Hash } from '@smithy/hash-node';
import { PreparedKeySha256 } from '../../src/s3/signer.ts';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const inputs: Array<[string, string | Uint8Array | ArrayBuffer]> = [
  ['a string', 'AWS4-HMAC-SHA256\n20261202T000000Z\n20261202/eu-west-2/s3/aws4_request\nabc'],
  ['a non-ASCII string', 'naïve/日本/🎞'],
  ['a Uint8Array view into a larger buffer', new Uint8Array(Buffer.from('xxpayloadxx')).subarray(2, 9)],
  ['an ArrayBuffer', new TextEncoder().encode('bytes').buffer as ArrayBuffer],
];
const keys: Array<[string, string | Uint8Array]> = [
  ['no key (plain SHA-256)', undefined as unknown as string],
  ['a string key', 'AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'],
  ['a byte key', new Uint8Array(32).map((_, i) => i * 7)],
];

for (const [keyName, key] of keys) {
  for (const [inputName, input] of inputs) {
    test(`with ${keyName}, ${inputName} hashes as the SDK's Hash does`, async (t) => {
      const ours = new PreparedKeySha256(key);
      const sdk = new Hash('sha256', key);
      ours.update(input);
      sdk.update(input);
      t.is(hex(await ours.digest()), hex(await sdk.digest()));
    });
  }
}

test('reset starts the hash again with the same key', async (t) => {
  const key = new Uint8Array([9, 8, 7]);
  const hash = new PreparedKeySha256(key);
  hash.update('thrown away');
  hash.reset();
  hash.update('kept');
  const sdk = new Hash('sha256', key);
  sdk.update('kept');
  t.is(hex(await hash.digest()), hex(await sdk.digest()));
});
