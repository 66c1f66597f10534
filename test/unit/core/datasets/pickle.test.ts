// The safe pickle parser against pickles written by real Python (scripts/gen-dataset-fixtures.py):
// protocols 0-5, Python-2 byte strings (latin-1) and unicode, memo sharing, batching; and pickles that
// would run code, which must be refused with the opcode, its byte offset and the file.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PickleError, parsePickle, type PickleValue } from '../../../../src/core/datasets/pickle';

const DIR = path.join(__dirname, '..', '..', '..', 'fixtures', 'datasets', 'refcoco', 'pickle');
const expected = JSON.parse(readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Record<string, unknown>;
const load = (name: string) => parsePickle(readFileSync(path.join(DIR, name)), path.join(DIR, name));

/** The same tagged JSON form the fixture script writes from Python's own unpickler (`tagged`). */
function tagged(v: PickleValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return { $int: v.toString() };
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return { $float: 'nan' };
    if (v === Infinity) return { $float: 'inf' };
    if (v === -Infinity) return { $float: '-inf' };
    if (Object.is(v, -0)) return { $float: '-0' };
    return v;
  }
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('hex') };
  if (Array.isArray(v)) return v.map(tagged);
  if (v instanceof Map) return { $dict: [...v.entries()].map(([k, x]) => [tagged(k as PickleValue), tagged(x)]) };
  if (v instanceof Set) return { $set: [...v].map((x) => tagged(x as PickleValue)).sort() };
  throw new Error(`unexpected value ${String(v)}`);
}

describe('pickle: plain data written by Python', () => {
  for (const proto of [0, 1, 2, 3, 4, 5]) {
    it(`protocol ${proto}: dict/list/tuple/int/long/float/unicode/bool/None, memo, batches`, () => {
      assert.deepEqual(tagged(load(`plain_proto${proto}.p`)), expected.plain);
    });
  }

  it('keeps dict key types and order (int, tuple and long keys are not strings)', () => {
    const v = load('plain_proto2.p') as Map<PickleValue, PickleValue>;
    const nested = v.get('nested') as Map<unknown, PickleValue>;
    const keys = [...nested.keys()];
    assert.equal(keys[0], 'a');
    assert.equal(keys[1], 1);
    assert.deepEqual(keys[2], [1, 2]);
    assert.equal(keys[3], 2 ** 40);
    assert.equal(nested.get(1), 'int key');
  });

  it('memo GET returns the same object (shared references survive)', () => {
    for (const proto of [0, 2, 4]) {
      const v = load(`plain_proto${proto}.p`) as Map<string, PickleValue>;
      const twice = v.get('shared twice') as PickleValue[];
      assert.equal(twice[0], twice[1], `protocol ${proto}`);
    }
  });

  it('ints beyond 2^53 become bigint, exactly', () => {
    const ints = (load('plain_proto0.p') as Map<string, PickleValue>).get('ints') as PickleValue[];
    assert.equal(ints.at(-4), 2 ** 53 - 1);
    assert.equal(ints.at(-3), 2n ** 53n);
    assert.equal(ints.at(-2), 2n ** 64n + 1n);
    assert.equal(ints.at(-1), -(2n ** 70n));
  });

  it('protocol 5: set, frozenset, bytes, bytearray', () => {
    assert.deepEqual(tagged(load('sets_bytes_proto5.p')), expected['sets_bytes_proto5.p']);
  });
});

describe('pickle: Python 2 str (bytes, latin-1) and unicode', () => {
  for (const proto of [0, 1, 2]) {
    it(`protocol ${proto}: STRING/BINSTRING/SHORT_BINSTRING decode as Python's encoding='latin1' does`, () => {
      const value = load(`py2str_proto${proto}.p`);
      assert.deepEqual(tagged(value), expected[`py2str_proto${proto}.p`]);
      const d = (value as PickleValue[])[0] as Map<string, PickleValue>;
      assert.equal(d.get('sent'), 'café au lait');          // byte \xe9 → é
      assert.equal(d.get('raw'), 'Café ☕ “quoted”');        // unicode survives
      assert.equal(d.get('escapes'), 'it\'s "both"\n\t\\ \x00\x7f\xff');
      assert.equal((d.get('long') as string).length, 300);
    });
  }

  it('the protocol-0 stream really uses the STRING opcode with escapes (what Python 2 wrote)', () => {
    const text = readFileSync(path.join(DIR, 'py2str_proto0.p'), 'latin1');
    assert.match(text, /S'caf\\xe9 au lait'\n/);
    assert.match(text, /S"it's"\n/);
  });
});

describe('pickle: refuses anything that would run code', () => {
  const marker = '/tmp/amc-pickle-fixture-was-executed';
  for (const [name, opcode, what] of [
    ['malicious_os_system_proto0.p', 'GLOBAL', 'posix.system'],
    ['malicious_os_system_proto2.p', 'GLOBAL', 'posix.system'],
    ['malicious_os_system_proto4.p', 'STACK_GLOBAL', ''],
    ['py3_bytes_proto2.p', 'GLOBAL', '_codecs.encode'],
  ] as const) {
    it(`${name}: ${opcode} rejected with opcode, byte offset and file; nothing executed`, () => {
      const file = path.join(DIR, name);
      const bytes = readFileSync(file);
      let err: unknown;
      try { parsePickle(bytes, file); } catch (e) { err = e; }
      assert.ok(err instanceof PickleError, `expected a PickleError, got ${String(err)}`);
      assert.equal(err.opcode, opcode);
      assert.equal(bytes[err.offset], opcode === 'GLOBAL' ? 0x63 : 0x93, 'offset points at the opcode byte');
      assert.ok(err.message.includes(file), err.message);
      assert.ok(err.message.includes(`opcode ${opcode} at byte ${err.offset}`), err.message);
      if (what) assert.ok(err.message.includes(what), err.message);
      assert.equal(existsSync(marker), false);
    });
  }

  const handMade: Array<[string, string, string]> = [
    ['INST', '(i__main__\nFoo\n(dp0\nb.', 'INST'],
    ['BUILD', '}(U\x01a}b.', 'BUILD'],
    ['REDUCE', ']]R.', 'REDUCE'],
    ['OBJ', '(]o.', 'OBJ'],
    ['NEWOBJ', '\x80\x02]]\x81.', 'NEWOBJ'],
    ['EXT1', '\x80\x02\x82\x01.', 'EXT1'],
    ['PERSID', 'Pabc\n.', 'PERSID'],
    ['BINPERSID', 'U\x03abcQ.', 'BINPERSID'],
  ];
  for (const [label, stream, opcode] of handMade) {
    it(`${label} rejected`, () => {
      assert.throws(() => parsePickle(Buffer.from(stream, 'latin1'), '/x/hand.p'),
        (e: unknown) => e instanceof PickleError && e.opcode === opcode && e.message.startsWith('/x/hand.p') && /nothing was executed/.test(e.message));
    });
  }
});

describe('pickle: malformed input', () => {
  it('a 0-byte file', () => {
    assert.throws(() => parsePickle(Buffer.alloc(0), '/data/refs(unc).p'), /\/data\/refs\(unc\)\.p.*empty \(0 bytes\)/);
  });

  for (const name of ['py2str_proto0.p', 'py2str_proto1.p', 'py2str_proto2.p', 'plain_proto4.p']) {
    it(`${name}: every truncation is reported as truncated, with the file`, () => {
      const bytes = readFileSync(path.join(DIR, name));
      // Every cut for small files; for the 13 kB one a stride through it plus every cut near the end.
      const cuts = [...Array(bytes.length).keys()].slice(1).filter((n) => bytes.length < 1000 || n % 101 === 0 || n > bytes.length - 48);
      for (const n of cuts) {
        assert.throws(() => parsePickle(bytes.subarray(0, n), 'cut.p'),
          (e: unknown) => e instanceof PickleError && /truncated/.test(e.message) && e.message.startsWith('cut.p'),
          `cut at ${n} of ${bytes.length}`);
      }
    });
  }

  it('unknown opcode, missing memo entry, bad STRING literal, stack underflow', () => {
    assert.throws(() => parsePickle(Buffer.from('\xff.', 'latin1'), 'f.p'), /unknown opcode 0xff/);
    assert.throws(() => parsePickle(Buffer.from('h\x05.', 'latin1'), 'f.p'), /memo entry 5 was never stored/);
    assert.throws(() => parsePickle(Buffer.from('Sabc\n.', 'latin1'), 'f.p'), /not a quoted literal/);
    assert.throws(() => parsePickle(Buffer.from('a.', 'latin1'), 'f.p'), /stack underflow/);
    assert.throws(() => parsePickle(Buffer.from('\x80\x09N.', 'latin1'), 'f.p'), /unsupported pickle protocol 9/);
  });

  it('a JSON file is not a pickle', () => {
    assert.throws(() => parsePickle(Buffer.from('[{"ref_id": 1}]'), 'refs.json'), (e: unknown) => e instanceof PickleError && /refs\.json \(opcode 0x5b at byte 0\): unknown opcode 0x5b: not a pickle/.test(e.message));
  });
});
