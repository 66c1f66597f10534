// A pickle reader for plain data that executes nothing (DESIGN "Safe": no pickle can execute code).
//
// RefCOCO's refs(unc).p (docs/reference.md §5.4) is a Python-2 pickle of lists, dicts, str/unicode, ints and floats.
// Python's own unpickler would import and call anything the stream names (GLOBAL + REDUCE is how a
// malicious pickle runs `os.system`). This parser implements only the opcodes that build plain values
// (protocols 0–5 as far as plain data goes) and rejects every opcode that names or calls a global, class,
// persistent id or extension, reporting the opcode, its byte offset and the file.
import { ReaderError } from './dataset';

/** Python dict, with its keys exactly as pickled (str, int, ...); insertion order kept. */
export type PickleDict = Map<PickleKey, PickleValue>;
export type PickleKey = string | number | bigint | boolean | null | PickleValue[];
/**
 * A plain Python value: None → null, bool → boolean, int → number (bigint when beyond 2^53), float →
 * number, Python-2 str → string decoded latin-1 (one char per byte), unicode/Python-3 str → string,
 * Python-3 bytes/bytearray → Uint8Array, list and tuple → array, set/frozenset → Set, dict → Map.
 */
export type PickleValue =
  | null | boolean | number | bigint | string | Uint8Array
  | PickleValue[] | PickleDict | Set<PickleKey>;

/** A pickle that cannot be read: truncated, malformed, or asking to run code. */
export class PickleError extends ReaderError {
  constructor(file: string, readonly offset: number, readonly opcode: string | undefined, message: string) {
    super(file, opcode ? `opcode ${opcode} at byte ${offset}` : `byte ${offset}`, message);
    this.name = 'PickleError';
  }
}

// Opcodes that would import, construct or call something. Their names follow pickletools.
const UNSAFE: Record<number, string> = {
  0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD', 0x69: 'INST', 0x6f: 'OBJ',
  0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x50: 'PERSID', 0x51: 'BINPERSID',
  0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', // out-of-band buffers come from the caller, never from a file
};

const MARK = Symbol('MARK');
type StackItem = PickleValue | typeof MARK;

/** Bytes → string, one char per byte (Python's latin-1). Short strings skip the Buffer round trip. */
function latin1(bytes: Uint8Array): string {
  if (bytes.length > 64) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  // fromCharCode over the bytes gives a flat string (a += loop would build a rope of one node per char)
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Parse one pickle from `bytes`. `file` only labels errors. Throws PickleError for a truncated or malformed
 * stream and for any opcode that would import or call code (GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ,
 * EXT*, PERSID, ...), before anything after it is read.
 */
export function parsePickle(bytes: Uint8Array, file: string): PickleValue {
  if (bytes.length === 0) throw new PickleError(file, 0, undefined, 'the file is empty (0 bytes), expected a pickle');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo: PickleValue[] = []; // indices are dense in practice (0, 1, 2, ...); an array is far faster than a Map
  let pos = 0;
  let opStart = 0;
  let op = -1; // the opcode being executed; -1 before the first and at end of input
  const opName = (): string => (op < 0 ? '' : OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`);

  const fail = (message: string, at = opStart): never => { throw new PickleError(file, at, opName() || undefined, message); };
  const need = (n: number): number => {
    if (n < 0) fail(`negative length ${n}`);
    if (pos + n > bytes.length) {
      fail(`the pickle is truncated: ${opName()} needs ${n} byte(s) at offset ${pos}, the file has ${bytes.length - pos} left`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const readLine = (): string => { // protocol-0 arguments: text up to '\n', which must be there
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`the pickle is truncated: ${opName()} argument has no terminating newline`);
    const line = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return line;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined) fail('stack underflow: malformed pickle');
    if (v === MARK) fail('unexpected MARK on the stack: malformed pickle');
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('stack underflow: malformed pickle');
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => { // items pushed since the last MARK, MARK removed
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] === MARK) {
        const items = stack.splice(i) as PickleValue[];
        items.shift();
        return items;
      }
    }
    return fail('no MARK on the stack: malformed pickle');
  };
  const asList = (v: PickleValue, what: string): PickleValue[] => {
    if (!Array.isArray(v)) fail(`${what} needs a list below it, found ${describe(v)}`);
    return v as PickleValue[];
  };
  const asDict = (v: PickleValue, what: string): PickleDict => {
    if (!(v instanceof Map)) fail(`${what} needs a dict below it, found ${describe(v)}`);
    return v as PickleDict;
  };
  const asKey = (v: PickleValue): PickleKey => {
    if (v instanceof Map || v instanceof Set || v instanceof Uint8Array) fail(`unhashable dict key ${describe(v)}`);
    return v as PickleKey;
  };
  const memoGet = (index: number): PickleValue => {
    const v = memo[index];
    if (v === undefined) fail(`memo entry ${index} was never stored: malformed pickle`);
    return v;
  };
  const memoPut = (index: number, v: PickleValue): void => {
    if (index > memo.length + 1_000_000) fail(`memo index ${index} is implausibly far beyond the ${memo.length} stored: malformed pickle`);
    memo[index] = v;
  };
  const decodeUtf8 = (b: Uint8Array): string => {
    try { return utf8Decoder.decode(b); } catch { return fail('unicode string is not valid UTF-8'); }
  };
  const intFromText = (text: string): number | bigint => {
    if (!/^[+-]?\d+$/.test(text)) fail(`not an integer: ${JSON.stringify(text)}`);
    const big = BigInt(text);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  };
  const intFromLE = (b: Uint8Array): number | bigint => { // two's complement little-endian (LONG1/LONG4)
    if (b.length === 0) return 0;
    let big = 0n;
    for (let i = b.length - 1; i >= 0; i--) big = (big << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) big -= 1n << BigInt(8 * b.length);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  };

  for (;;) {
    if (pos >= bytes.length) {
      op = -1;
      fail('the pickle is truncated: it ends before the STOP opcode', pos);
    }
    opStart = pos;
    op = bytes[pos++];
    const unsafe = UNSAFE[op];
    if (unsafe) {
      let what = '';
      if (op === 0x63 || op === 0x69) { // GLOBAL/INST name module and attribute on two text lines: show them
        const lines = latin1(bytes.subarray(pos, pos + 200)).split('\n');
        if (lines.length >= 3) what = ` (${lines[0]}.${lines[1]})`;
      }
      fail(`refusing opcode ${unsafe}${what}: it would import or call code, and this reader accepts only plain ` +
        'data (dict, list, tuple, str, unicode, int, float, bool, None); nothing was executed');
    }
    switch (op) {
      case 0x2e: { // STOP
        const result = pop();
        return result;
      }
      case 0x80: { // PROTO
        const p = bytes[need(1)];
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: need(8); break; // FRAME: a length hint only; the bytes follow inline
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      // --- scalars
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x49: { // INT (protocol 0): decimal text; "00"/"01" are Python 2's False/True
        const text = readLine();
        if (text === '00') stack.push(false);
        else if (text === '01') stack.push(true);
        else stack.push(intFromText(text));
        break;
      }
      case 0x4c: { // LONG (protocol 0): decimal text with an optional trailing 'L'
        const text = readLine();
        stack.push(intFromText(text.endsWith('L') ? text.slice(0, -1) : text));
        break;
      }
      case 0x4a: stack.push(view.getInt32(need(4), true)); break; // BININT
      case 0x4b: stack.push(bytes[need(1)]); break; // BININT1
      case 0x4d: stack.push(view.getUint16(need(2), true)); break; // BININT2
      case 0x8a: { const n = bytes[need(1)]; const at = need(n); stack.push(intFromLE(bytes.subarray(at, at + n))); break; } // LONG1
      // LONG4
      case 0x8b: { const n = view.getInt32(need(4), true); const at = need(n); stack.push(intFromLE(bytes.subarray(at, at + n))); break; }
      case 0x46: { // FLOAT (protocol 0): repr text
        const text = readLine().trim();
        const value = parsePythonFloat(text);
        if (value === undefined) fail(`not a float: ${JSON.stringify(text)}`);
        stack.push(value as number);
        break;
      }
      case 0x47: stack.push(view.getFloat64(need(8), false)); break; // BINFLOAT: big-endian double
      // --- Python 2 str: bytes, decoded latin-1
      case 0x53: { // STRING: a quoted Python literal with escapes
        const text = readLine();
        const quote = text[0];
        if (text.length < 2 || (quote !== "'" && quote !== '"') || text[text.length - 1] !== quote) {
          fail(`STRING argument is not a quoted literal: ${JSON.stringify(text.slice(0, 60))}`);
        }
        const decoded = decodeStringEscape(text.slice(1, -1));
        if (decoded === undefined) fail(`STRING argument has an invalid escape: ${JSON.stringify(text.slice(0, 60))}`);
        stack.push(decoded as string);
        break;
      }
      // BINSTRING
      case 0x54: { const n = view.getInt32(need(4), true); const at = need(n); stack.push(latin1(bytes.subarray(at, at + n))); break; }
      case 0x55: { const n = bytes[need(1)]; const at = need(n); stack.push(latin1(bytes.subarray(at, at + n))); break; } // SHORT_BINSTRING
      // --- unicode
      case 0x56: stack.push(decodeRawUnicodeEscape(readLine())); break; // UNICODE (protocol 0)
      // BINUNICODE
      case 0x58: { const n = view.getUint32(need(4), true); const at = need(n); stack.push(decodeUtf8(bytes.subarray(at, at + n))); break; }
      // SHORT_BINUNICODE
      case 0x8c: { const n = bytes[need(1)]; const at = need(n); stack.push(decodeUtf8(bytes.subarray(at, at + n))); break; }
      // BINUNICODE8
      case 0x8d: {
        const n = readLength8(view, need(8), fail); const at = need(n); stack.push(decodeUtf8(bytes.subarray(at, at + n))); break;
      }
      // --- Python 3 bytes / bytearray (protocol 3+): kept as bytes
      case 0x42: { const n = view.getUint32(need(4), true); const at = need(n); stack.push(bytes.slice(at, at + n)); break; } // BINBYTES
      case 0x43: { const n = bytes[need(1)]; const at = need(n); stack.push(bytes.slice(at, at + n)); break; } // SHORT_BINBYTES
      // BINBYTES8, BYTEARRAY8
      case 0x8e: case 0x96: { const n = readLength8(view, need(8), fail); const at = need(n); stack.push(bytes.slice(at, at + n)); break; }
      // --- containers
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push([]); break; // EMPTY_TUPLE
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x6c: case 0x74: stack.push(popMark()); break; // LIST, TUPLE
      case 0x85: stack.push([pop()]); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; } // TUPLE3
      case 0x91: stack.push(new Set(popMark().map(asKey))); break; // FROZENSET
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const dict: PickleDict = new Map();
        for (let i = 0; i < items.length; i += 2) dict.set(asKey(items[i]), items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x61: { const v = pop(); asList(top(), 'APPEND').push(v); break; } // APPEND
      case 0x65: { const items = popMark(); const list = asList(top(), 'APPENDS'); for (const v of items) list.push(v); break; } // APPENDS
      case 0x73: { const v = pop(); const k = pop(); asDict(top(), 'SETITEM').set(asKey(k), v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const dict = asDict(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) dict.set(asKey(items[i]), items[i + 1]);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof Set)) fail(`ADDITEMS needs a set below it, found ${describe(set)}`);
        for (const v of items) (set as Set<PickleKey>).add(asKey(v));
        break;
      }
      // --- memo
      case 0x70: memoPut(Number(intFromText(readLine())), top()); break; // PUT
      case 0x71: memoPut(bytes[need(1)], top()); break; // BINPUT
      case 0x72: memoPut(view.getUint32(need(4), true), top()); break; // LONG_BINPUT
      case 0x94: memoPut(memo.length, top()); break; // MEMOIZE
      case 0x67: stack.push(memoGet(Number(intFromText(readLine())))); break; // GET
      case 0x68: stack.push(memoGet(bytes[need(1)])); break; // BINGET
      case 0x6a: stack.push(memoGet(view.getUint32(need(4), true))); break; // LONG_BINGET
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}: not a pickle, or a corrupt one`);
    }
  }
}

function readLength8(view: DataView, at: number, fail: (m: string) => never): number {
  const n = view.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${n} is too large`);
  return Number(n);
}

function describe(v: PickleValue | undefined): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list/tuple';
  if (v instanceof Map) return 'a dict';
  if (v instanceof Set) return 'a set';
  if (v instanceof Uint8Array) return 'bytes';
  return `a ${typeof v}`;
}

/** Python float repr as written by protocol 0: decimal, 'inf', '-inf', 'nan'. */
function parsePythonFloat(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === 'nan' || lower === '-nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return undefined;
  return Number(text);
}

/** Python's string_escape / escape_decode, as the STRING opcode applies it; characters are bytes (latin-1). */
function decodeStringEscape(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') { out += c; continue; }
    const n = body[++i];
    switch (n) {
      case undefined: return undefined; // trailing lone backslash
      case '\n': break; // line continuation
      case '\\': out += '\\'; break;
      case "'": out += "'"; break;
      case '"': out += '"'; break;
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        const hex = body.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        break;
      }
      default:
        if (n >= '0' && n <= '7') { // up to three octal digits
          let j = i;
          while (j < i + 3 && body[j] >= '0' && body[j] <= '7') j++;
          out += String.fromCharCode(parseInt(body.slice(i, j), 8) & 0xff);
          i = j - 1;
        } else {
          out += '\\' + n; // unknown escapes stay as written, like Python
        }
    }
  }
  return out;
}

/**
 * Python's raw_unicode_escape decoding (UNICODE opcode): bytes are latin-1 code points, except that
 * `\uXXXX` / `\UXXXXXXXX` preceded by an odd number of backslashes is an escape.
 */
function decodeRawUnicodeEscape(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '\\') { out += text[i++]; continue; }
    let j = i;
    while (j < text.length && text[j] === '\\') j++;
    const run = j - i;
    const letter = text[j];
    if (run % 2 === 1 && (letter === 'u' || letter === 'U')) {
      const digits = letter === 'u' ? 4 : 8;
      const hex = text.slice(j + 1, j + 1 + digits);
      if (hex.length === digits && /^[0-9a-fA-F]+$/.test(hex)) {
        out += '\\'.repeat(run - 1) + String.fromCodePoint(parseInt(hex, 16));
        i = j + 1 + digits;
        continue;
      }
    }
    out += text.slice(i, j);
    i = j;
  }
  return out;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT',
  0x4a: 'BININT', 0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID',
  0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET',
  0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT',
  0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};
