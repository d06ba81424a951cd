import test from 'ava';
import { createHash } from 'node:crypto';
import { cleanFileName, fitName, keyFits, numberedName, userHash, userPrefix, userSegment } from '../../src/uploads/object-name.ts';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

// [what, raw name, cleaned name or null for refused]
const hostileNames: Array<[string, string, string | null]> = [
  ['a plain name', 'report.pdf', 'report.pdf'],
  ['dot-dot segments', '../../x', 'x'],
  ['dot-dot with backslashes', '..\\..\\windows\\system32\\x.dll', 'x.dll'],
  ['a folder path', 'a/b', 'b'],
  ['an absolute path', '/etc/passwd', 'passwd'],
  ['a trailing slash', 'a/', null],
  ['only dots', '..', null],
  ['a single dot', '.', null],
  ['three dots', '...', null],
  ['a hidden file', '.bashrc', 'bashrc'],
  ['leading dots and spaces', ' . .. x.txt', 'x.txt'],
  ['trailing spaces', 'x.txt  ', 'x.txt'],
  ['NUL inside', 'evil\u0000.txt', 'evil.txt'],
  ['NUL then a hidden extension', 'x.pdf\u0000.exe', 'x.pdf.exe'],
  ['only NUL', '\u0000', null],
  ['CRLF inside', 'a\r\nSet-Cookie: x.txt', 'aSet-Cookie: x.txt'],
  ['a tab', 'a\tb.txt', 'ab.txt'],
  ['DEL and C1 controls', 'a\u007f\u0085\u009bb.txt', 'ab.txt'],
  ['a right-to-left override', 'invoice\u202Efdp.exe', 'invoicefdp.exe'],
  ['every bidi control', '\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069\u200E\u200F\u061Cx.txt', 'x.txt'],
  ['only a direction override', '\u202E', null],
  ['line and paragraph separators', 'a\u2028b\u2029c.txt', 'abc.txt'],
  ['a byte-order mark', '\uFEFFx.txt', 'x.txt'],
  ['a control hiding a leading dot', '\u0000.hidden', 'hidden'],
  ['a control between slash and dots', 'a/\u202E../x', 'x'],
  ['a lone surrogate', 'a\uD800b.txt', 'ab.txt'],
  ['a real emoji (a surrogate pair)', 'photo \u{1F600}.jpg', 'photo \u{1F600}.jpg'],
  ['decomposed accents become composed (NFC)', 'cafe\u0301.txt', 'caf\u00e9.txt'],
  ['a control between a letter and its accent', 'cafe\u0000\u0301.txt', 'caf\u00e9.txt'],
  ['percent-encoding stays literal', '%2e%2e%2fx', '%2e%2e%2fx'],
  ['a name with spaces and brackets', 'report (1).pdf', 'report (1).pdf'],
  ['Windows drive letter', 'C:\\Users\\ada\\x.txt', 'x.txt'],
  ['a URL', 'https://example.org/a/b.png', 'b.png'],
  ['an empty name', '', null],
  ['only spaces', '   ', null],
];

for (const [what, raw, expected] of hostileNames) {
  test(`file name: ${what} → ${expected === null ? 'refused' : JSON.stringify(expected)}`, (t) => {
    const result = cleanFileName(raw);
    if (expected === null) {
      t.false(result.ok);
    } else {
      t.deepEqual(result, { ok: true, name: expected });
    }
  });
}

test('every cleaned name is one segment without controls, leading dots or direction marks, in NFC, within 255 bytes', (t) => {
  const nasty = ['/', '\\', '.', '\u0000', '\r', '\n', '\u202E', '\u2066', 'a', 'é', 'e\u0301', '\u{1F600}', ' ', '\uD800', '\u0085'];
  // every string of one to three of these pieces
  const inputs: string[] = [];
  let level = [''];
  for (let length = 1; length <= 3; length++) {
    level = level.flatMap((prefix) => nasty.map((piece) => prefix + piece));
    inputs.push(...level);
  }
  for (const raw of inputs) {
    const result = cleanFileName(raw);
    if (!result.ok) continue;
    const { name } = result;
    t.false(/[/\\]/.test(name), JSON.stringify(raw));
    t.false(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(name), JSON.stringify(raw));
    t.false(name.startsWith('.'), JSON.stringify(raw));
    t.is(name, name.normalize('NFC'), JSON.stringify(raw));
    t.is(Buffer.from(name, 'utf8').toString('utf8'), name, JSON.stringify(raw));
    t.true(name.length > 0 && bytes(name) <= 255);
  }
});

test('a 300-byte name is shortened to 255 bytes, keeping its extension', (t) => {
  const raw = 'a'.repeat(296) + '.pdf';
  const result = cleanFileName(raw);
  if (!result.ok) return t.fail();
  t.is(bytes(result.name), 255);
  t.true(result.name.endsWith('.pdf'));
  t.is(result.name, 'a'.repeat(251) + '.pdf');
});

test('shortening never splits a character: multi-byte names stay valid UTF-8', (t) => {
  for (const piece of ['é', '日', '\u{1F600}', '\u{1F469}\u200D\u{1F4BB}', 'e\u0301\u0301']) {
    const result = cleanFileName(piece.repeat(200) + '.txt');
    if (!result.ok) return t.fail();
    t.true(bytes(result.name) <= 255, piece);
    t.true(result.name.endsWith('.txt'), piece);
    const stem = result.name.slice(0, -4);
    // whole repetitions of the piece only
    t.is(stem, piece.normalize('NFC').repeat(stem.length / piece.normalize('NFC').length), piece);
    t.is(Buffer.from(result.name, 'utf8').toString('utf8'), result.name);
  }
});

test('a name whose extension is too long for a stem is cut as a whole', (t) => {
  const name = 'x.' + 'y'.repeat(300);
  const fitted = fitName(name, 255);
  t.is(bytes(fitted), 255);
  t.true(fitted.startsWith('x.yyy'));
});

test('numbered names for rename: report.pdf, report (1).pdf, report (2).pdf', (t) => {
  t.is(numberedName('report.pdf', 0), 'report.pdf');
  t.is(numberedName('report.pdf', 1), 'report (1).pdf');
  t.is(numberedName('report.pdf', 2), 'report (2).pdf');
  t.is(numberedName('archive.tar.gz', 1), 'archive.tar (1).gz');
  t.is(numberedName('README', 3), 'README (3)');
  t.is(numberedName('bashrc', 1), 'bashrc (1)');
});

test('a numbered long name stays within 255 bytes and keeps its number and extension', (t) => {
  const long = 'a'.repeat(251) + '.pdf';
  const renamed = numberedName(long, 12);
  t.true(bytes(renamed) <= 255);
  t.true(renamed.endsWith(' (12).pdf'));
});

test('{user} is the lower-cased address with other characters replaced by _', (t) => {
  const cases: Array<[string, string]> = [
    ['Ada@Example.org', 'ada@example.org'],
    ['ada.lovelace+uploads@example.org', 'ada.lovelace+uploads@example.org'],
    ['o\'brien@example.org', 'o_brien@example.org'],
    ['../../etc@example.org', '.._.._etc@example.org'],
    ['a/b\\c@example.org', 'a_b_c@example.org'],
    ['zoë@example.org', 'zo_@example.org'],
    ['\u{1F600}@example.org', '_@example.org'],
    ['a b\r\n@x', 'a_b__@x'],
  ];
  for (const [email, segment] of cases) t.is(userSegment(email), segment, email);
});

test('{user_hash} is the first 20 hex digits of the SHA-256 of the lower-cased address', (t) => {
  const expected = createHash('sha256').update('ada@example.org').digest('hex').slice(0, 20);
  t.is(userHash('Ada@Example.ORG'), expected);
  t.regex(userHash('x'), /^[0-9a-f]{20}$/);
});

test('the user prefix fills every placeholder', (t) => {
  t.is(userPrefix('uploads/{user}/', 'Ada@Example.org'), 'uploads/ada@example.org/');
  t.is(userPrefix('u/{user_hash}/', 'ada@example.org'), `u/${userHash('ada@example.org')}/`);
  t.is(userPrefix('{user}/{user}/', 'a@b'), 'a@b/a@b/');
  t.is(userPrefix('shared/', 'a@b'), 'shared/');
  // replacement patterns in the value are not interpreted
  t.is(userPrefix('u/{user}/', "$&$'@x"), 'u/____@x/');
});

test('keys over S3s 1024 bytes do not fit', (t) => {
  t.true(keyFits('a'.repeat(1024)));
  t.false(keyFits('a'.repeat(1025)));
  t.false(keyFits('é'.repeat(513)));
});
