// Reading a whole JSON annotation file (info-ground, ALBEF, COCO instances.json) with errors that name the
// file and the entry: a 0-byte file, a truncated file (which top-level entry it ends in), a syntax error
// (line, column, entry). Python's json.dump writes NaN / Infinity for non-finite floats, which JSON.parse
// rejects; those are read back as numbers so that the reader can report "box with NaN" for that entry.
import { readRegularFile } from '../boundedRead';
import { ReaderError, asReaderError } from './dataset';

/** JSON.parse cannot take a longer string (V8's limit, 0x1fffffe8 characters): no whole-file read beyond it. */
export const MAX_WHOLE_JSON_BYTES = 0x1fffffe8;

/** One element of the top-level array or object, with the byte offset where it starts. */
export interface JsonEntry {
  key?: string;   // object member name (top-level object)
  index: number;  // position among the top-level entries
  offset: number; // byte offset of the key (object) or the value (array)
}

export interface JsonDocument {
  value: unknown;
  /** Top-level entries in file order (JSON.parse reorders integer-like keys; this does not). */
  entries: JsonEntry[];
  bytes: number;
}

export function entryLabel(e: JsonEntry): string {
  return e.key !== undefined ? JSON.stringify(e.key) : `[${e.index}]`;
}

/**
 * Read and parse `file`; `expected` describes the format for messages ("info-ground sentences_{split}.json").
 * Only a regular file is read (a FIFO, device or folder is refused at once, boundedRead.ts); `what` names it in
 * messages ("instances.json") and `maxBytes` caps it (default: what JSON.parse can take, for the file the user opened).
 */
export async function readJsonFile(file: string, expected: string, opts: { what?: string; maxBytes?: number } = {}): Promise<JsonDocument> {
  let buf: Buffer;
  try {
    buf = await readRegularFile(file, { what: opts.what ?? 'annotation file', maxBytes: opts.maxBytes ?? MAX_WHOLE_JSON_BYTES });
  } catch (err) {
    throw asReaderError(err);
  }
  return parseJsonBuffer(buf, file, expected);
}

export function parseJsonBuffer(buf: Buffer, file: string, expected: string): JsonDocument {
  if (buf.length === 0) throw new ReaderError(file, undefined, `the file is empty (0 bytes); expected ${expected}`);
  const entries = scanTopLevel(buf, file, expected);
  let text = buf.toString('utf8');
  const bom = text.charCodeAt(0) === 0xfeff ? 3 : 0; // a BOM some editors add; JSON.parse rejects it
  if (bom) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (first) {
    const patched = quotePythonNonFinite(text);
    try {
      if (patched === undefined) throw first;
      value = JSON.parse(patched, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(NON_FINITE_TAG) ? Number(v.slice(NON_FINITE_TAG.length)) : v));
    } catch {
      throw syntaxError(first as Error, text, bom, entries, file, expected);
    }
  }
  return { value, entries, bytes: buf.length };
}

/**
 * Walk the bytes once: top-level entry offsets and, if the brackets never close, which entry the file
 * ends in. Structural characters are ASCII, so scanning UTF-8 bytes is exact.
 */
function scanTopLevel(buf: Buffer, file: string, expected: string): JsonEntry[] {
  let i = 0;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3; // UTF-8 BOM
  while (i < buf.length && isSpace(buf[i])) i++;
  if (i === buf.length) throw new ReaderError(file, undefined, `the file holds only whitespace; expected ${expected}`);
  const open = buf[i];
  if (open !== 0x7b && open !== 0x5b) return []; // not a container: JSON.parse and the reader will say what it is
  const isObject = open === 0x7b;
  const entries: JsonEntry[] = [];
  let depth = 0;
  let expectEntry = false; // at depth 1, right after '{' / '[' / ','
  for (; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x22) { // string
      const start = i;
      for (i++; i < buf.length && buf[i] !== 0x22; i++) if (buf[i] === 0x5c) i++;
      if (i >= buf.length) break; // unterminated string: truncated
      if (depth === 1 && expectEntry) {
        let key: string | undefined;
        if (isObject) { try { key = JSON.parse(buf.toString('utf8', start, i + 1)) as string; } catch { key = undefined; } }
        entries.push({ key, index: entries.length, offset: start });
        expectEntry = false;
      }
      continue;
    }
    if (isSpace(c)) continue;
    if (depth === 1 && expectEntry && c !== 0x5d && c !== 0x7d) {
      entries.push({ index: entries.length, offset: i });
      expectEntry = false;
    }
    if (c === 0x7b || c === 0x5b) { depth++; if (depth === 1) expectEntry = true; }
    else if (c === 0x7d || c === 0x5d) { depth--; if (depth === 0) return entries; }
    else if (c === 0x2c && depth === 1) expectEntry = true;
  }
  const last = entries[entries.length - 1];
  throw new ReaderError(file, last ? `entry ${entryLabel(last)} at byte ${last.offset}` : undefined,
    `the JSON ends at byte ${buf.length} before its ${isObject ? 'object' : 'array'} is closed: the file looks truncated (expected ${expected})`);
}

function isSpace(c: number): boolean { return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; }

const NON_FINITE_TAG = '\u0000amc-python-float:';

/** Replace Python's bare NaN / Infinity / -Infinity (outside strings) by tagged strings; undefined if none. */
function quotePythonNonFinite(text: string): string | undefined {
  let out = '';
  let last = 0;
  let found = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    for (const token of ['NaN', 'Infinity', '-Infinity']) {
      if (text.startsWith(token, i)) {
        out += text.slice(last, i) + JSON.stringify(NON_FINITE_TAG + token);
        i += token.length - 1;
        last = i + 1;
        found = true;
        break;
      }
    }
  }
  return found ? out + text.slice(last) : undefined;
}

function syntaxError(err: Error, text: string, bomBytes: number, entries: JsonEntry[], file: string, expected: string): ReaderError {
  // V8 gives a position for some errors only ("Unexpected token" has none): find it ourselves then.
  const m = /position (\d+)/.exec(err.message);
  const found = m ? { pos: Number(m[1]), message: err.message.replace(/ (?:in JSON )?at position \d+.*$/s, '') } : firstSyntaxError(text);
  if (!found) return new ReaderError(file, undefined, `invalid JSON: ${err.message} (expected ${expected})`);
  const before = text.slice(0, found.pos);
  const line = before.split('\n').length;
  const column = found.pos - before.lastIndexOf('\n');
  const byte = bomBytes + Buffer.byteLength(before, 'utf8');
  let entry: JsonEntry | undefined;
  for (const e of entries) { if (e.offset <= byte) entry = e; else break; }
  const where = `${entry ? `entry ${entryLabel(entry)}, ` : ''}line ${line}, column ${column}`;
  return new ReaderError(file, where, `invalid JSON: ${found.message} (expected ${expected})`);
}

/** Position and reason of the first JSON syntax error in `text` (a plain recursive-descent check). */
function firstSyntaxError(text: string): { pos: number; message: string } | undefined {
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const bad = (what: string): never => {
    throw { pos: i, message: i >= text.length ? `unexpected end of input, ${what}` : `unexpected ${JSON.stringify(text[i])}, ${what}` };
  };
  const string = () => {
    i++; // opening quote
    for (; i < text.length; i++) {
      const c = text[i];
      if (c === '"') { i++; return; }
      if (c === '\\') {
        i++;
        if (text[i] === 'u') { if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) bad('expected 4 hex digits after \\u'); i += 4; }
        else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) bad('invalid escape in a string');
      } else if (c < ' ') bad('control character in a string');
    }
    bad('expected the closing quote of a string');
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') bad('expected a double-quoted property name');
        string(); ws();
        if (text[i] !== ':') bad("expected ':' after a property name");
        i++; value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        bad("expected ',' or '}' after a property value");
      }
    }
    if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        bad("expected ',' or ']' after an array element");
      }
    }
    if (c === '"') return string();
    const lit = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (!lit) bad('expected a value');
    i += lit![0].length;
  };
  try {
    value(); ws();
    if (i < text.length) bad('expected the end of the input');
  } catch (e) {
    if (e && typeof e === 'object' && 'pos' in e) return e as { pos: number; message: string };
    return undefined; // e.g. nesting too deep for the stack
  }
  return undefined;
}
