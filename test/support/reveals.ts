// Looks for a secret in stored data in every form it could have been written
// in: as is, URL- or JSON-escaped, UTF-16, hex, and base64 or base64url at
// each of the three byte alignments (so that it is found inside a longer
// encoded value too), and in the bytes of every base64, base64url or hex run
// of the data, decoded, twice over (base64 of base64).

const minRun = 12;

/** The forms `secret` takes when written on its own or inside a longer value; each names its encoding. */
export function formsOf(secret: string | Buffer): Array<{ encoding: string; text: string }> {
  const byteForms: Array<[string, Buffer]> =
    typeof secret === 'string'
      ? [
          ['utf8', Buffer.from(secret, 'utf8')],
          ['utf16le', Buffer.from(secret, 'utf16le')],
        ]
      : [['bytes', secret]];
  const forms: Array<{ encoding: string; text: string }> = [];
  if (typeof secret === 'string') {
    forms.push({ encoding: 'raw', text: secret });
    forms.push({ encoding: 'uri', text: encodeURIComponent(secret) });
    forms.push({ encoding: 'json', text: JSON.stringify(secret).slice(1, -1) });
  }
  for (const [name, bytes] of byteForms) {
    forms.push({ encoding: `${name} latin1`, text: bytes.toString('latin1') });
    forms.push({ encoding: `${name} hex`, text: bytes.toString('hex') });
    for (const shift of [0, 1, 2]) {
      // The characters that depend on the secret's bytes alone, wherever it starts.
      const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
      const first = Math.ceil((8 * shift) / 6);
      const end = Math.floor((8 * (shift + bytes.length)) / 6);
      const stable = encoded.slice(first, end);
      forms.push({ encoding: `${name} base64+${shift}`, text: stable });
      forms.push({ encoding: `${name} base64url+${shift}`, text: stable.replaceAll('+', '-').replaceAll('/', '_') });
    }
  }
  return forms.filter((form) => form.text.length > 0);
}

/** Every decoding worth trying of the runs of encoded text in `data`. */
function decodings(data: Buffer): Buffer[] {
  const text = data.toString('latin1');
  const found: Buffer[] = [];
  for (const [, run] of text.matchAll(/([A-Za-z0-9+/_-]{12,})/g)) {
    const normal = run!.replaceAll('-', '+').replaceAll('_', '/');
    for (const offset of [0, 1, 2, 3]) {
      const part = normal.slice(offset);
      if (part.length >= minRun) found.push(Buffer.from(part.slice(0, part.length - (part.length % 4)), 'base64'));
    }
  }
  for (const [run] of text.matchAll(/[0-9a-fA-F]{12,}/g)) {
    for (const offset of [0, 1]) found.push(Buffer.from(run.slice(offset, run.length - ((run.length - offset) % 2)), 'hex'));
  }
  return found;
}

/** The encoding in which `secret` can be found in `data`, or undefined. */
export function whereFound(data: string | Buffer, secret: string | Buffer, depth = 2): string | undefined {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const asText = bytes.toString('latin1');
  const lower = asText.toLowerCase();
  for (const form of formsOf(secret)) {
    const text = form.encoding.endsWith('hex') ? form.text.toLowerCase() : form.text;
    if ((form.encoding.endsWith('hex') ? lower : asText).includes(text)) return form.encoding;
    // The same characters written as UTF-8 (a value stored as text, not bytes).
    if (bytes.includes(Buffer.from(form.text, 'utf8'))) return `${form.encoding} as utf8`;
  }
  if (depth > 0) {
    for (const decoded of decodings(bytes)) {
      const inner = whereFound(decoded, secret, depth - 1);
      if (inner !== undefined) return `decoded, then ${inner}`;
    }
  }
  return undefined;
}
