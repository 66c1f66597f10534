// Streaming reader of an evaluation report (`amc eval --out`, `python -m amc_trainer eval --out`): the rows of its
// "samples" array one at a time, in file order, without holding the file or a parsed tree in memory. A 1 M-query
// report is ~0.5 GB of JSON: JSON.parse of it would not fit the memory a breakdown may use, so this is a small
// byte-level JSON scanner that decodes only the fields `amc insights` reads and skips the rest.
// Reads the schema-1 report (src/core/evalReportSchema.ts) and the reports written before it (the TypeScript one,
// and the trainer's with "point": [x, y] and no lMean/lMax); refuses another "schema" or a newer "schemaVersion".
import { existsSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { openRegularFile } from './boundedRead';
import { REPORT_SCHEMA, REPORT_SCHEMA_VERSION } from './evalReportSchema';
import {
  ByteIds, HIT, InsightTable, MISS, NO_IMAGE, NOT_SCORED, ROW_HEIGHT, ROW_L_MAX, ROW_L_MEAN, ROW_PX, ROW_PY, ROW_VALUES, ROW_WIDTH,
  type InsightTableParts,
} from './insights';

/** A report that cannot be read: the message names the file, the entry (samples[i]) or the byte offset. */
export class ReportReadError extends Error {
  override name = 'ReportReadError';
}

export interface ReportReadOptions {
  /** Bytes read per call (default 8 MB). */
  chunkBytes?: number;
  /** Largest single entry (one row, or one top-level field other than "samples"); default 64 MB. */
  maxEntryBytes?: number;
  /**
   * Called after each row is added to the table with its "id" and "score" (NaN when absent): the viewer maps
   * report rows to dataset samples by id and shows the score without recomputing it. Ids are decoded only then.
   */
  onRow?: (row: number, id: string | undefined, score: number, notScored?: { error: string; reason?: string }) => void;
  /** Called with the top-level fields read so far when "samples" begins (both writers put the header first). */
  onSamples?: (meta: ReportMeta) => void;
  /** Awaited before each read of the next chunk: the rows handed to onRow so far can be processed asynchronously. */
  beforeRead?: () => Promise<void>;
}

/** The report's top-level fields other than "samples" and "worst" (model, file, counts, ...), parsed. */
export type ReportMeta = Record<string, unknown>;

const NEED_MORE = Symbol('need more bytes');
const META_MAX_BYTES = 1 << 20;

// Row keys the breakdowns read (the TypeScript report's names and the trainer's snake_case ones).
const enum Key { Other, Phrase, Split, Image, Boxes, Width, Height, Hit, Point, LMean, LMax, Error, Id, Score, Reason }
const KEYS: [string, Key][] = [
  ['phrase', Key.Phrase], ['split', Key.Split], ['image', Key.Image], ['boxes', Key.Boxes], ['width', Key.Width],
  ['height', Key.Height], ['hit', Key.Hit], ['point', Key.Point], ['lMean', Key.LMean], ['l_mean', Key.LMean],
  ['lMax', Key.LMax], ['l_max', Key.LMax], ['error', Key.Error], ['id', Key.Id], ['score', Key.Score],
  ['reason', Key.Reason],
];
const KEYS_BY_FIRST: { bytes: Buffer; key: Key }[][] = [];
for (const [name, key] of KEYS) (KEYS_BY_FIRST[name.charCodeAt(0)] ??= []).push({ bytes: Buffer.from(name, 'latin1'), key });
// Buffer#latin1Slice skips toString's argument checks (undocumented, present in every Node this runs on).
type Latin1Slicer = Buffer & { latin1Slice?: (start: number, end: number) => string };
const latin1 = typeof (Buffer.prototype as Latin1Slicer).latin1Slice === 'function'
  ? (buf: Buffer, start: number, end: number): string => (buf as Latin1Slicer).latin1Slice!(start, end)
  : (buf: Buffer, start: number, end: number): string => buf.toString('latin1', start, end);
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Whether bytes [from, to) are words of [a-z0-9] separated by single spaces (insights.ts NORMAL_PHRASE, as bytes). */
function isPlainPhrase(buf: Buffer, from: number, to: number): boolean {
  if (to <= from || buf[from] === 0x20 || buf[to - 1] === 0x20) return false;
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c === 0x20) { if (buf[i + 1] === 0x20) return false; }
    else if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39))) return false;
  }
  return true;
}

class Scanner {
  buf: Buffer;
  pos = 0;
  end = 0;
  /** Where the current entry began: on NEED_MORE the scanner rewinds here after reading more. */
  mark = 0;
  /** File offset of buf[0]. */
  base = 0;
  eof = false;
  /** Index of the samples[] element being decoded (-1 outside), for messages. */
  entry = -1;

  constructor(readonly file: string, chunkBytes: number, readonly maxEntryBytes: number) {
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  fail(message: string, at = this.pos): never {
    throw new ReportReadError(`${this.file}: ${this.entry >= 0 ? `samples[${this.entry}]: ` : ''}${message} (byte ${this.base + at})`);
  }

  more(): never {
    if (this.eof) this.fail('unexpected end of file (the report is cut short)');
    throw NEED_MORE;
  }

  /** Next non-whitespace byte, not consumed. */
  ws(): number {
    const buf = this.buf, end = this.end;
    let p = this.pos;
    while (p < end) {
      const c = buf[p];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) { this.pos = p; return c; }
      p++;
    }
    this.pos = p;
    return this.more();
  }

  expect(ch: number, what: string): void {
    if (this.ws() !== ch) this.fail(`expected ${what}, found ${this.found()}`);
    this.pos++;
  }

  found(): string {
    if (this.pos >= this.end) return 'end of file';
    const c = this.buf[this.pos];
    return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16)}`;
  }

  // What stringEnd found (fields, not a returned object: no allocation per string).
  private escaped = false;
  private ascii = true;
  private hash = 0;

  /** Index of the closing quote of the string starting at pos (a '"'); sets escaped, ascii and an FNV-1a hash. */
  private stringEnd(): number {
    const buf = this.buf, end = this.end;
    let p = this.pos + 1, escaped = false, ascii = true, hash = 0x811c9dc5 | 0;
    for (;;) {
      if (p >= end) this.more();
      const c = buf[p];
      if (c === 0x22) break;
      if (c === 0x5c) { escaped = true; hash = Math.imul(hash ^ c, 0x01000193); p++; if (p >= end) this.more(); }
      else if (c < 0x20) { this.pos = p; this.fail('control character inside a string'); }
      else if (c >= 0x80) ascii = false;
      hash = Math.imul(hash ^ c, 0x01000193);
      p++;
    }
    this.escaped = escaped; this.ascii = ascii; this.hash = hash;
    return p;
  }

  /** The string value whose quotes are at start and close. */
  private decode(start: number, close: number): string {
    if (this.escaped) {
      try { return JSON.parse(this.buf.toString('utf8', start, close + 1)) as string; } catch { this.fail('bad escape in a string', start); }
    }
    return this.ascii ? latin1(this.buf, start + 1, close) : this.buf.toString('utf8', start + 1, close);
  }

  string(): string {
    if (this.ws() !== 0x22) this.fail(`expected a string, found ${this.found()}`);
    const close = this.stringEnd();
    const start = this.pos;
    this.pos = close + 1;
    return this.decode(start, close);
  }

  /**
   * A string value as the table's id of that split or image: an image looked up in the table by its bytes, a split
   * (a handful of values) through this scanner's cache of their bytes. (An id function per call would allocate a
   * closure per row.)
   */
  internedString(table: InsightTable, field: 'split' | 'image'): number {
    if (this.ws() !== 0x22) this.fail(`"${field}" must be a string, found ${this.found()}`);
    // Rows of one image follow each other: the same bytes as the last value are compared before anything else.
    const last = field === 'split' ? this.lastSplit : this.lastImage;
    const same = this.sameAsLast(last);
    if (same >= 0) return same;
    const close = this.stringEnd();
    const start = this.pos;
    this.pos = close + 1;
    let id: number;
    // An image is looked up in the table by its bytes (the UTF-8 of the path when it has no escape).
    if (field === 'image' && !this.escaped) id = table.imageIdOfBytes(this.buf, start + 1, close, this.hash);
    else if (field === 'image') id = table.imageId(this.decode(start, close));
    else {
      id = this.splitIds.find(this.buf, start + 1, close, this.hash);
      if (id < 0) {
        id = table.splitId(this.decode(start, close));
        this.splitIds.add(this.buf, start + 1, close, this.hash, id);
      }
    }
    const n = close - start - 1;
    if (!this.escaped && n <= last.bytes.length) {
      const b = last.bytes, buf = this.buf;
      for (let i = 0; i < n; i++) b[i] = buf[start + 1 + i];
      last.length = n; last.id = id;
    }
    else last.length = -1;
    return id;
  }

  private readonly lastSplit: LastString = { bytes: Buffer.alloc(256), length: -1, id: -1 };
  private readonly lastImage: LastString = { bytes: Buffer.alloc(1024), length: -1, id: -1 };

  /** The id of `last` when the string at pos (its '"') has exactly its bytes (then consumed), else -1. */
  private sameAsLast(last: LastString): number {
    const n = last.length, buf = this.buf, from = this.pos + 1;
    if (n < 0 || from + n >= this.end) return -1;
    const b = last.bytes;
    for (let i = 0; i < n; i++) if (buf[from + i] !== b[i]) return -1;
    if (buf[from + n] !== 0x22) return -1;
    this.pos = from + n + 1;
    return last.id;
  }

  /**
   * "phrase", handed to the table as the phrase of the row it is given next (InsightTable.pendPhrase). A phrase
   * already in pre_caption form (lower-case ASCII words, single spaces: most of them) goes as its bytes; others
   * as a string, put in that form by the table.
   */
  phrase(table: InsightTable): void {
    if (this.ws() !== 0x22) this.fail(`"phrase" must be a string, found ${this.found()}`);
    // One pass for the common case: hash the bytes while checking that they are words of [a-z0-9] separated by
    // single spaces (isPlainPhrase); anything else (or the chunk's end) goes the general way below.
    const buf = this.buf, end = this.end, from = this.pos + 1;
    let p = from, hash = 0x811c9dc5 | 0, plain = true, afterSpace = true;
    for (; p < end; p++) {
      const c = buf[p];
      if (c === 0x22) break;
      if (c === 0x20) { if (afterSpace) { plain = false; break; } afterSpace = true; }
      else if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) afterSpace = false;
      else { plain = false; break; }
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    if (plain && p < end && p > from && !afterSpace) {
      table.pendPhrase(buf, from, p, hash);
      this.pos = p + 1;
      return;
    }
    const close = this.stringEnd();
    const start = this.pos;
    this.pos = close + 1;
    if (!this.escaped && isPlainPhrase(this.buf, start + 1, close)) table.pendPhrase(this.buf, start + 1, close, this.hash);
    else table.pendPhraseText(this.decode(start, close));
  }

  // The keys of the last rows, in order, each as its bytes from the opening quote to the ':' (both writers write
  // every row's keys in the same order): a key that is exactly those bytes again is known by one comparison.
  private readonly layout: { bytes: Buffer; key: Key }[] = [];

  /** The i-th key of a row: as the i-th key of the rows before when its bytes are the same, else by key(). */
  rowKey(i: number): Key {
    const expected = this.layout[i];
    if (expected !== undefined && this.ws() === 0x22) {
      const b = expected.bytes, p = this.pos, n = b.length, buf = this.buf;
      if (p + n <= this.end) {
        let k = 1;
        while (k < n && buf[p + k] === b[k]) k++;
        if (k === n) { this.pos = p + n; return expected.key; }
      }
    }
    this.ws();
    const start = this.pos;
    const key = this.key();
    if (i < 64) this.layout[i] = { bytes: Buffer.from(this.buf.subarray(start, this.pos)), key };
    return key;
  }

  /** A row key: which of KEYS it is (compared as bytes, no string made), the scanner after its ':'. */
  key(): Key {
    if (this.ws() !== 0x22) this.fail(`expected a key, found ${this.found()}`);
    // Keys are short and plain: find the closing quote without hashing (escapes go the slow way).
    const buf = this.buf, end = this.end;
    let close = this.pos + 1;
    for (;;) {
      if (close >= end) this.more();
      const c = buf[close];
      if (c === 0x22) break;
      if (c === 0x5c || c < 0x20) { close = this.stringEnd(); break; }
      close++;
    }
    const start = this.pos + 1, len = close - start;
    const candidates = KEYS_BY_FIRST[this.buf[start]];
    let key = Key.Other;
    if (candidates) {
      for (const k of candidates) {
        if (k.bytes.length !== len) continue;
        let i = 1;
        while (i < len && this.buf[start + i] === k.bytes[i]) i++;
        if (i === len) { key = k.key; break; }
      }
    }
    this.pos = close + 1;
    if (this.ws() !== 0x3a) this.fail(`expected ':', found ${this.found()}`);
    this.pos++;
    return key;
  }

  /** A JSON number (grammar checked), exact: short decimals directly (Clinger's fast path), long ones by Number(). */
  number(): number {
    this.parseNumber();
    return this.parsed[0];
  }

  // number()'s result: a double returned by a function that is not inlined is boxed on the heap (~150 MB of
  // garbage per million rows); written here, and read back by the small wrappers that are inlined, it is not.
  private readonly parsed = new Float64Array(1);

  private parseNumber(): void {
    const buf = this.buf, end = this.end;
    let p = this.pos;
    const start = p;
    // Reads past the filled part give undefined (or stale bytes before buf's end), which ends any loop below;
    // a number that runs to the end of the filled bytes may continue in the next chunk: read more and redo it.
    let neg = false;
    if (buf[p] === 0x2d) { neg = true; p++; }
    let c = buf[p];
    if (!(c >= 0x30 && c <= 0x39)) { if (p >= end) this.more(); this.pos = p; this.fail(`expected a number, found ${this.found()}`); }
    let mantissa = 0, digits = 0, scale = 0;
    if (c === 0x30) c = buf[++p];
    else while (c >= 0x30 && c <= 0x39) { mantissa = mantissa * 10 + (c - 0x30); digits++; c = buf[++p]; }
    if (c === 0x2e) {
      c = buf[++p];
      if (!(c >= 0x30 && c <= 0x39)) { if (p >= end) this.more(); this.pos = p; this.fail('expected a digit after the decimal point'); }
      while (c >= 0x30 && c <= 0x39) {
        if (mantissa !== 0 || c !== 0x30) digits++;
        mantissa = mantissa * 10 + (c - 0x30); scale--; c = buf[++p];
      }
    }
    let exp = 0;
    if (c === 0x65 || c === 0x45) {
      c = buf[++p];
      let expNeg = false;
      if (c === 0x2b || c === 0x2d) { expNeg = c === 0x2d; c = buf[++p]; }
      if (!(c >= 0x30 && c <= 0x39)) { if (p >= end) this.more(); this.pos = p; this.fail('expected a digit in the exponent'); }
      while (c >= 0x30 && c <= 0x39) { exp = Math.min(exp * 10 + (c - 0x30), 1e6); c = buf[++p]; }
      if (expNeg) exp = -exp;
    }
    if (p >= end) this.more();
    this.pos = p;
    const e10 = scale + exp;
    let value: number;
    if (digits <= 15 && e10 >= -22 && e10 <= 22) value = e10 < 0 ? mantissa / POW10[-e10] : mantissa * POW10[e10];
    else value = Number(latin1(buf, neg ? start + 1 : start, p));
    this.parsed[0] = neg ? -value : value;
  }

  /** Step over a number without converting it (fields nobody reads). */
  skipNumber(): void {
    const buf = this.buf, end = this.end;
    let p = this.pos;
    while (p < end) {
      const c = buf[p];
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) p++;
      else { this.pos = p; return; }
    }
    this.more();
  }

  /** true / false / null: consumed; returns the byte it started with. */
  literal(): number {
    const c = this.ws();
    const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : '';
    if (!word) this.fail(`expected true, false or null, found ${this.found()}`);
    if (this.pos + word.length > this.end) this.more();
    for (let i = 1; i < word.length; i++) if (this.buf[this.pos + i] !== word.charCodeAt(i)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return c;
  }

  isNull(): boolean {
    if (this.ws() !== 0x6e) return false;
    this.literal();
    return true;
  }

  /** The index after the closing quote of the string whose opening quote is at p (not decoded, not hashed). */
  private stringAfter(p: number): number {
    const buf = this.buf, end = this.end;
    for (p++; ; p++) {
      if (p >= end) this.more();
      const c = buf[p];
      if (c === 0x22) return p + 1;
      if (c === 0x5c) p++;
      else if (c < 0x20) { this.pos = p; this.fail('control character inside a string'); }
    }
  }

  /** Skip any JSON value. */
  skip(): void {
    const c = this.ws();
    if (c === 0x22) { this.pos = this.stringAfter(this.pos); return; }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) { this.skipNumber(); return; }
    if (c === 0x74 || c === 0x66 || c === 0x6e) { this.literal(); return; }
    if (c !== 0x7b && c !== 0x5b) this.fail(`expected a value, found ${this.found()}`);
    // Object or array: brackets counted, strings stepped over (their brackets do not count).
    const buf = this.buf;
    let depth = 0, p = this.pos;
    for (;;) {
      if (p >= this.end) this.more();
      const b = buf[p];
      if (b === 0x22) { p = this.stringAfter(p); continue; }
      if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) { if (--depth === 0) { this.pos = p + 1; return; } }
      p++;
    }
  }

  /** ',' then more, or the closing bracket (consumed: returns true). */
  nextOrClose(close: number, what: string): boolean {
    const c = this.ws();
    if (c === close) { this.pos++; return true; }
    if (c !== 0x2c) this.fail(`expected ',' or ${what}, found ${this.found()}`);
    this.pos++;
    return false;
  }

  finiteNumber(field: string): number {
    const c = this.ws();
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) this.fail(`"${field}" must be a number, found ${this.found()}`);
    return this.number();
  }

  /** finiteNumber into to[i] (a double returned by a call that is not inlined is boxed: 30 MB a million rows). */
  numberInto(to: Float64Array, i: number, field: string): void {
    const c = this.ws();
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) this.fail(`"${field}" must be a number, found ${this.found()}`);
    this.parseNumber();
    to[i] = this.parsed[0];
  }

  /** "boxes" into this.flat (x1 y1 x2 y2 each); returns how many. */
  boxes(): number {
    if (this.ws() !== 0x5b) this.fail(`"boxes" must be an array of [x1, y1, x2, y2], found ${this.found()}`);
    this.pos++;
    if (this.ws() === 0x5d) { this.pos++; return 0; }
    for (let n = 0; ; n++) {
      if (this.ws() !== 0x5b) this.fail(`"boxes"[${n}] must be [x1, y1, x2, y2], found ${this.found()}`);
      this.pos++;
      if (this.flat.length < 4 * (n + 1)) {
        const bigger = new Float64Array(this.flat.length * 2); bigger.set(this.flat); this.flat = bigger;
      }
      for (let k = 0; k < 4; k++) {
        // Checked here, not by finiteNumber(`boxes[${n}][${k}]`): that name string, made for every number, was
        // 575 MB of garbage per million rows.
        const c = this.ws();
        if (c !== 0x2d && (c < 0x30 || c > 0x39)) this.fail(`"boxes[${n}][${k}]" must be a number, found ${this.found()}`);
        this.flat[4 * n + k] = this.number();
        if (this.nextOrClose(0x5d, "']'") !== (k === 3)) this.fail(`"boxes"[${n}] must have exactly 4 numbers`);
      }
      if (this.nextOrClose(0x5d, "']'")) return n + 1;
    }
  }

  /** {"x", "y"} or the trainer's [x, y] into v[ROW_PX], v[ROW_PY]; null: both NaN. */
  point(v: Float64Array): void {
    v[ROW_PX] = NaN; v[ROW_PY] = NaN;
    const c = this.ws();
    if (c === 0x6e) { this.literal(); return; }
    if (c === 0x5b) { // the trainer's [x, y]
      this.pos++;
      this.numberInto(v, ROW_PX, 'point[0]');
      if (this.nextOrClose(0x5d, "']'")) this.fail('"point" must be [x, y]');
      this.numberInto(v, ROW_PY, 'point[1]');
      if (!this.nextOrClose(0x5d, "']'")) this.fail('"point" must be [x, y]');
      return;
    }
    if (c !== 0x7b) this.fail(`"point" must be {"x", "y"} or [x, y], found ${this.found()}`);
    this.pos++;
    if (this.ws() === 0x7d) this.pos++;
    else for (;;) {
      // "x" or "y" told by their one byte (a string per key was 70 ms of a million rows); escaped keys decoded.
      if (this.ws() !== 0x22) this.fail(`expected a string, found ${this.found()}`);
      const close = this.stringEnd(), start = this.pos;
      this.pos = close + 1;
      let k = -1;
      if (this.escaped) { const v = this.decode(start, close); k = v === 'x' ? 0x78 : v === 'y' ? 0x79 : -1; }
      else if (close === start + 2) k = this.buf[start + 1];
      this.expect(0x3a, "':'");
      if (k === 0x78) this.numberInto(v, ROW_PX, 'point.x');
      else if (k === 0x79) this.numberInto(v, ROW_PY, 'point.y');
      else this.skip();
      if (this.nextOrClose(0x7d, "'}'")) break;
    }
    if (Number.isNaN(v[ROW_PX]) || Number.isNaN(v[ROW_PY])) this.fail('"point" needs both x and y');
  }

  private readonly splitIds = new ByteIds();
  private flat = new Float64Array(64);
  /** The row's numbers for InsightTable.push (ROW_PX ...), in an array: no double boxed per call. */
  private readonly values = new Float64Array(ROW_VALUES);

  /** Decode row ids (ReportReadOptions.onRow); the id, score and not-scored error / reason of the last row read. */
  wantIds = false;
  rowId: string | undefined;
  rowScore = NaN;
  rowNotScored: { error: string; reason?: string } | undefined;

  /** One element of "samples", appended to the table once it is complete (a rewind leaves the table as it was). */

  row(table: InsightTable): void {
    if (this.ws() !== 0x7b) this.fail(`expected an object, found ${this.found()}`);
    this.pos++;
    let phrase = -1, split = -1, image = NO_IMAGE, nBoxes = -1, hit = -1;
    let error: string | undefined, reason: string | undefined;
    const v = this.values;
    v.fill(NaN);
    this.rowId = undefined;
    this.rowScore = NaN;
    if (this.ws() === 0x7d) this.pos++;
    else for (let field = 0; ; field++) {
      switch (this.rowKey(field)) {
        case Key.Phrase: this.phrase(table); phrase = 1; break;
        case Key.Split: split = this.isNull() ? -1 : this.internedString(table, 'split'); break;
        case Key.Image: image = this.isNull() ? NO_IMAGE : this.internedString(table, 'image'); break;
        case Key.Boxes: nBoxes = this.boxes(); break;
        case Key.Width: if (this.isNull()) v[ROW_WIDTH] = NaN; else this.numberInto(v, ROW_WIDTH, 'width'); break;
        case Key.Height: if (this.isNull()) v[ROW_HEIGHT] = NaN; else this.numberInto(v, ROW_HEIGHT, 'height'); break;
        case Key.Hit: {
          const c = this.literal();
          hit = c === 0x74 ? HIT : c === 0x66 ? MISS : -1;
          break;
        }
        case Key.Point:
          this.point(v);
          break;
        case Key.LMean: if (this.isNull()) v[ROW_L_MEAN] = NaN; else this.numberInto(v, ROW_L_MEAN, 'lMean'); break;
        case Key.LMax: if (this.isNull()) v[ROW_L_MAX] = NaN; else this.numberInto(v, ROW_L_MAX, 'lMax'); break;
        case Key.Error: error = this.isNull() ? undefined : this.string(); break;
        case Key.Id:
          if (this.wantIds && this.ws() === 0x22) this.rowId = this.string(); else this.skip();
          break;
        case Key.Score:
          // Only the viewer reads scores (onRow); long decimals are the slow numbers, so skip them otherwise.
          if (this.wantIds) this.rowScore = this.isNull() ? NaN : this.finiteNumber('score'); else this.skip();
          break;
        case Key.Reason: reason = this.isNull() ? undefined : this.string(); break;
        default: this.skip();
      }
      if (this.nextOrClose(0x7d, "'}'")) break;
    }
    if (phrase < 0) this.fail('no "phrase"');
    if (nBoxes < 0) this.fail('no "boxes"');
    const hasPoint = !Number.isNaN(v[ROW_PX]);
    if (hit >= 0 && !hasPoint && error === undefined) this.fail('"hit" without a "point"');
    const scored = hit >= 0 && hasPoint && error === undefined;
    const notScoredError = scored ? undefined : error ?? (hit < 0 ? 'no hit' : 'no point');
    this.rowNotScored = notScoredError === undefined ? undefined : { error: notScoredError, ...(reason !== undefined ? { reason } : {}) };
    table.push(scored ? hit : NOT_SCORED, v, split >= 0 ? split : table.splitId(null),
      image, this.flat, nBoxes, notScoredError);
  }

  /** Move the unfinished entry to the front, grow the buffer if it alone fills it, read more. */
  async refill(read: (buf: Buffer, offset: number, length: number, position: number) => Promise<number>): Promise<void> {
    if (this.mark > 0) {
      this.buf.copy(this.buf, 0, this.mark, this.end);
      this.end -= this.mark; this.base += this.mark; this.pos -= this.mark; this.mark = 0;
    }
    if (this.end === this.buf.length) {
      if (this.buf.length >= this.maxEntryBytes) {
        this.fail(`an entry larger than ${Math.round(this.maxEntryBytes / 2 ** 20)} MB`, 0);
      }
      const bigger = Buffer.allocUnsafe(Math.min(this.buf.length * 2, this.maxEntryBytes));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    const n = await read(this.buf, this.end, this.buf.length - this.end, this.base + this.end);
    if (n === 0) this.eof = true;
    this.end += n;
  }
}

type ReadAt = (buf: Buffer, offset: number, length: number, position: number) => Promise<number>;

/** Rows read before the table is sized for the whole range from their bytes per row (InsightTable.reserveRows). */
const ESTIMATE_AFTER = 1024;

/** Size `table` for the rows of `spanBytes` bytes, from the first `rows` rows of `readBytes` bytes (5 % spare). */
function reserveFor(table: InsightTable, rows: number, readBytes: number, spanBytes: number): void {
  if (rows <= 0 || readBytes <= 0) return;
  const scale = (spanBytes / readBytes) * 1.05, expect = Math.ceil(scale * rows);
  table.reserveRows(expect, Math.ceil((table.boxStart[table.size] / 4 / table.size) * expect), Math.ceil(scale * table.pendingPhraseBytes));
}

/** Run a scanner step until it completes, rewinding to its last mark and reading more whenever it runs out of bytes. */
async function runStep<T>(s: Scanner, read: ReadAt, step: () => T, beforeRead?: () => Promise<void>): Promise<T> {
  for (;;) {
    s.mark = s.pos;
    try { return step(); } catch (e) {
      if (e !== NEED_MORE) throw e;
      s.pos = s.mark;
      if (beforeRead) await beforeRead();
      await s.refill(read);
    }
  }
}

/** A range of a report read in parallel did not end where the next one begins: read it again on one thread. */
class RangeMismatch extends Error {
  override name = 'RangeMismatch';
}

/**
 * The rows of a parallel read after the first range: given where "samples" begins, the offset at which the calling
 * thread stops (the start of the second range) and `finish`, which waits for the other ranges, appends them to
 * the table and returns how many rows they held and the offset after the "samples" array's ']'.
 */
interface SplitPlan {
  stopAt: number;
  finish(): Promise<{ rows: number; resumeAt: number }>;
}

async function readReport(file: string, table: InsightTable, opts: ReportReadOptions,
  split?: (samplesAt: number, size: number) => Promise<SplitPlan | undefined>): Promise<{ meta: ReportMeta; rows: number; bytes: number }> {
  const { handle, size } = await openRegularFile(file, { maxBytes: Number.MAX_SAFE_INTEGER, what: 'evaluation report' });
  const s = new Scanner(file, Math.max(64, opts.chunkBytes ?? 8 << 20), Math.max(1024, opts.maxEntryBytes ?? 64 << 20));
  s.wantIds = opts.onRow !== undefined;
  const read: ReadAt = async (buf, offset, length, position) => (await handle.read(buf, offset, length, position)).bytesRead;
  const run = <T>(step: () => T): Promise<T> => runStep(s, read, step, opts.beforeRead);
  const meta: ReportMeta = {};
  let rows = 0, sawSamples = false;
  try {
    await run(() => {
      if (s.ws() !== 0x7b) s.fail(`not an evaluation report: expected a JSON object, found ${s.found()}`);
      s.pos++;
    });
    let firstKey = true;
    for (;;) {
      const key = await run(() => {
        if (firstKey ? s.ws() === 0x7d && (s.pos++, true) : s.nextOrClose(0x7d, "'}'")) return undefined;
        const k = s.string();
        s.expect(0x3a, "':'");
        return k;
      });
      if (key === undefined) break;
      firstKey = false;
      if (key === 'samples') {
        if (sawSamples) s.fail('a second "samples" array');
        sawSamples = true;
        await run(() => { if (s.ws() !== 0x5b) s.fail(`"samples" must be an array, found ${s.found()}`); s.pos++; });
        opts.onSamples?.(meta);
        const samplesAt = s.base + s.pos;
        const plan = split ? await split(samplesAt, size) : undefined;
        const stopAt = plan?.stopAt ?? Infinity;
        let first = true, cut = false;
        await run(() => {
          for (;;) {
            if (first ? s.ws() === 0x5d && (s.pos++, true) : s.nextOrClose(0x5d, "']' after the last sample")) return;
            if (!first && stopAt !== Infinity && (s.ws(), s.base + s.pos >= stopAt)) {   // at the next row's first byte
              if (s.base + s.pos > stopAt) throw new RangeMismatch(`row ${rows} ends after the range boundary ${stopAt}`);
              cut = true;
              return;
            }
            s.entry = rows;
            s.row(table);
            opts.onRow?.(rows, s.rowId, s.rowScore, s.rowNotScored);
            s.entry = -1;
            rows++;
            if (rows === ESTIMATE_AFTER) reserveFor(table, table.size, s.base + s.pos - samplesAt, size - samplesAt);
            first = false;
            s.mark = s.pos;
          }
        });
        if (plan) {
          if (!cut) throw new RangeMismatch(`"samples" ended before the range boundary ${stopAt}`);
          const rest = await plan.finish();
          rows += rest.rows;
          // Continue after the array's ']', which the last range read.
          s.base = rest.resumeAt; s.pos = 0; s.end = 0; s.mark = 0; s.eof = false;
        }
      } else {
        await run(() => {
          s.ws();
          const start = s.pos;
          s.skip();
          if (key !== 'worst' && s.pos - start <= META_MAX_BYTES) {
            try { meta[key] = JSON.parse(s.buf.toString('utf8', start, s.pos)); } catch { s.fail(`"${key}" is not valid JSON`, start); }
          }
          // The header precedes "samples" in both writers: refuse a report of another kind before reading its rows.
          if (key === 'schema' && meta.schema !== REPORT_SCHEMA) {
            s.fail(`"schema" is ${JSON.stringify(meta.schema)}: not an AMC evaluation report (expected "${REPORT_SCHEMA}")`, start);
          }
          if (key === 'schemaVersion' && !(Number.isInteger(meta.schemaVersion) && (meta.schemaVersion as number) >= 1 &&
            (meta.schemaVersion as number) <= REPORT_SCHEMA_VERSION)) {
            s.fail(`"schemaVersion" ${JSON.stringify(meta.schemaVersion)}: this version reads evaluation report schema ` +
              `1..${REPORT_SCHEMA_VERSION} (a newer report needs a newer AMC Grounding Lens)`, start);
          }
        });
      }
    }
    await run(() => {
      for (;;) {
        if (s.pos >= s.end) { if (s.eof) return; s.more(); }
        const c = s.buf[s.pos];
        if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) s.fail('unexpected data after the report object');
        s.pos++;
      }
    });
  } finally {
    await handle.close();
  }
  if (!sawSamples) {
    throw new ReportReadError(`${file}: no "samples" array: not an evaluation report (written by amc eval --out or python -m amc_trainer eval --out)`);
  }
  return { meta, rows, bytes: size };
}

/**
 * Read the "samples" of the report `file` into `table`, in file order. Returns the other top-level fields.
 * Throws ReportReadError naming the file and the entry (samples[i]) or byte offset.
 */
export async function readReportInto(file: string, table: InsightTable,
  opts: ReportReadOptions = {}): Promise<{ meta: ReportMeta; rows: number; bytes: number }> {
  return readReport(file, table, opts);
}

interface LastString { bytes: Buffer; length: number; id: number }

/** One range of a parallel read, as the worker thread (reportWorker.ts) gets it. */
export interface RangeTask {
  file: string;
  /** File offset of the range's first row ('{'). */
  start: number;
  /** Offset of the next range's first row; -1: the range runs to the end of "samples" (its ']'). */
  stopAt: number;
  chunkBytes?: number;
  maxEntryBytes?: number;
}

export type RangeResult =
  | { ok: true; rows: number; end: number; parts: InsightTableParts }
  | { ok: false; mismatch: boolean; message: string };

/**
 * Read the rows of one range into a table of its own (every not-scored reason kept, so that appendParts counts
 * them exactly). It must end exactly at `stopAt` (a ',' then the next range's first row there), or with the
 * array's ']' when stopAt is -1; anything else is a mismatch and the caller reads the report on one thread.
 */
export async function readReportRange(task: RangeTask): Promise<RangeResult> {
  const table = new InsightTable();
  table.maxReasons = MAX_RANGE_REASONS;
  let handle: FileHandle | undefined;
  try {
    const opened = await openRegularFile(task.file, { maxBytes: Number.MAX_SAFE_INTEGER, what: 'evaluation report' });
    handle = opened.handle;
    const h = handle;
    const s = new Scanner(task.file, Math.max(64, task.chunkBytes ?? 8 << 20), Math.max(1024, task.maxEntryBytes ?? 64 << 20));
    s.base = task.start;
    const read: ReadAt = async (buf, offset, length, position) => (await h.read(buf, offset, length, position)).bytesRead;
    let rows = 0, first = true, end = -1;
    await runStep(s, read, () => {
      for (;;) {
        if (!first) {
          if (s.nextOrClose(0x5d, "']' after the last sample")) {
            if (task.stopAt >= 0) throw new RangeMismatch(`"samples" ended before the range boundary ${task.stopAt}`);
            end = s.base + s.pos;
            return;
          }
          if (task.stopAt >= 0 && (s.ws(), s.base + s.pos >= task.stopAt)) {
            if (s.base + s.pos > task.stopAt) throw new RangeMismatch(`a row ends after the range boundary ${task.stopAt}`);
            end = task.stopAt;
            return;
          }
        } else if (s.base + s.pos !== task.start || s.ws() !== 0x7b) throw new RangeMismatch(`no row begins at ${task.start}`);
        s.row(table);
        rows++;
        if (rows === ESTIMATE_AFTER) {
          reserveFor(table, rows, s.base + s.pos - task.start, (task.stopAt >= 0 ? task.stopAt : opened.size) - task.start);
        }
        first = false;
        s.mark = s.pos;
      }
    });
    if (table.notScoredReasons.size >= MAX_RANGE_REASONS) {
      return { ok: false, mismatch: true, message: `more than ${MAX_RANGE_REASONS} distinct not-scored reasons in one range` };
    }
    // The sums over rows that the breakdowns need are counted here, beside the other threads (they add up).
    table.precount();
    return { ok: true, rows, end, parts: table.exportParts() };
  } catch (e) {
    return { ok: false, mismatch: e instanceof RangeMismatch, message: e instanceof Error ? e.message : String(e) };
  } finally {
    await handle?.close();
  }
}

const MAX_RANGE_REASONS = 100_000;

/** The transferable buffers of a table's parts (sent without copying). */
export function partsTransferList(p: InsightTableParts): ArrayBuffer[] {
  const k = p.phraseKeys;
  const counts = p.counts ? Object.values(p.counts).flatMap((c) => [c.queries, c.hits, c.notScored]) : [];
  return [p.status, p.px, p.py, p.lMean, p.lMax, p.width, p.height, p.split, p.image, p.phrase, p.boxStart, p.boxes,
    k.bytes, k.entries, k.hashes, ...(k.byHash ? [k.byHash.order, k.byHash.hashes] : []), p.phraseWordStart, p.phraseWords,
    p.phraseLength, ...counts]
    .map((a) => a.buffer as ArrayBuffer);
}

export interface ParallelReadOptions extends Omit<ReportReadOptions, 'onRow'> {
  /** Threads in all, this one included (default: the machine's available parallelism, at most 4). 1: no workers. */
  threads?: number;
  /** Files smaller than this are read on one thread (default 32 MB: a worker costs ~30 ms to start). */
  minParallelBytes?: number;
  /** The worker script (default: reportWorker.js beside this bundle, or reportWorker.ts through tsx from source). */
  workerScript?: string;
}

export interface ParallelReadResult {
  table: InsightTable;
  meta: ReportMeta;
  rows: number;
  bytes: number;
  /** Threads that read rows (1: one sequential read). */
  threads: number;
  /** Why the parallel read was not used or was abandoned (then the report was read on one thread). */
  sequentialBecause?: string;
}

function resolveRangeWorker(explicit?: string): { file: string; execArgv?: string[] } | undefined {
  if (explicit) return { file: explicit, execArgv: explicit.endsWith('.ts') ? ['--require', 'tsx/cjs'] : undefined };
  const bundled = path.join(__dirname, 'reportWorker.js');
  if (existsSync(bundled)) return { file: bundled };
  const source = path.join(__dirname, 'reportWorker.ts');
  if (existsSync(source)) return { file: source, execArgv: ['--require', 'tsx/cjs'] };
  return undefined;
}

/**
 * Where to cut `file` into `parts` ranges of rows, in [from, size): each cut is the first byte of a row that follows
 * ',' and a line break (both writers indent, and a raw line break cannot occur inside a JSON string), or, in a
 * report on one line, '}' ',' '{'. Only a guess: each range is checked to end exactly where the next begins.
 */
async function findCuts(file: string, from: number, size: number, parts: number): Promise<number[] | string> {
  const handle = await open(file, 'r');
  try {
    const cuts: number[] = [];
    const window = Buffer.allocUnsafe(1 << 16);
    // The first row's indentation (after its line break): rows begin with the same; nested objects are deeper.
    const head = window.subarray(0, (await handle.read(window, 0, 4096, from)).bytesRead);
    let brace = 0;
    while (brace < head.length && isSpace(head[brace])) brace++;
    const line = head.lastIndexOf(0x0a, brace);
    const indent = line >= 0 ? Buffer.from(head.subarray(line + 1, brace)) : undefined;
    for (let k = 1; k < parts; k++) {
      // Equal ranges: this thread appends the others' rows and computes the breakdowns after the read, yet a
      // first range 8-15 % shorter measured no faster on 2 cores (the threads share them with the GC's).
      const target = Math.floor(from + ((size - from) * k) / parts);
      const { bytesRead } = await handle.read(window, 0, window.length, target);
      const cut = rowStartIn(window.subarray(0, bytesRead), indent);
      if (cut < 0) return `no row boundary found near byte ${target}`;
      if (cuts.length && target + cut <= cuts[cuts.length - 1]) return 'rows too large to cut the report into ranges';
      cuts.push(target + cut);
    }
    return cuts;
  } finally {
    await handle.close();
  }
}

const PARALLEL_CHUNK_BYTES = 4 << 20;

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Index in `b` of a '{' that follows ',' and a line break then exactly `indent` (the first row's indentation), or
 * when rows do not begin on lines of their own (indent undefined), of a '{' after '}' ',' and spaces; -1 if none.
 */
function rowStartIn(b: Buffer, indent: Buffer | undefined): number {
  if (indent) for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) {
    const j: number = i + 1 + indent.length;
    if (j >= b.length || b[j] !== 0x7b || !b.subarray(i + 1, j).equals(indent)) continue;
    let k = i - 1;
    while (k >= 0 && isSpace(b[k])) k--;
    if (k >= 0 && b[k] === 0x2c) return j;
  }
  if (indent) return -1;
  for (let i = b.indexOf(0x2c); i >= 0; i = b.indexOf(0x2c, i + 1)) {
    let j = i + 1, k = i - 1;
    while (j < b.length && isSpace(b[j])) j++;
    while (k >= 0 && isSpace(b[k])) k--;
    if (j < b.length && b[j] === 0x7b && k >= 0 && b[k] === 0x7d) return j;
  }
  return -1;
}

/**
 * readReportInto on several threads: the report's rows are cut into ranges (findCuts), this thread reads the
 * header and the first range while worker threads read the others into tables of their own, which are appended in
 * order (InsightTable.appendParts). The result is the table one sequential read gives, row for row and id for id;
 * whenever a range does not end exactly where the next begins, a worker fails or cannot start, the report is read
 * again on one thread (which also gives the exact message of a malformed row). sequentialBecause says why.
 */
export async function readReportTable(file: string, opts: ParallelReadOptions = {}): Promise<ParallelReadResult> {
  const threads = Math.max(1, Math.floor(opts.threads ?? Math.min(4, availableParallelism())));
  // Every thread holds a read buffer: 4 MB each on several threads (reads of 4 MB cost no more than of 8).
  if (threads > 1 && opts.chunkBytes === undefined) opts = { ...opts, chunkBytes: PARALLEL_CHUNK_BYTES };
  const sequential = async (because?: string): Promise<ParallelReadResult> => {
    const table = new InsightTable();
    const r = await readReport(file, table, opts);
    return { table, ...r, threads: 1, ...(because ? { sequentialBecause: because } : {}) };
  };
  if (threads < 2) return sequential();
  const worker = resolveRangeWorker(opts.workerScript);
  if (!worker) return sequential('the report worker script was not found');
  const started: Worker[] = [];
  const results: Promise<RangeResult>[] = [];
  const startWorker = (): void => {
    const w = new Worker(worker.file, { execArgv: worker.execArgv });
    started.push(w);
    results.push(new Promise<RangeResult>((resolve) => {
      w.once('message', (m: RangeResult) => resolve(m));
      w.once('error', (e) => resolve({ ok: false, mismatch: false, message: `report worker failed: ${e.message}` }));
      w.once('exit', (code) => resolve({ ok: false, mismatch: false, message: `report worker exited (code ${code})` }));
    }));
  };
  const minBytes = opts.minParallelBytes ?? 32 << 20;
  // A worker takes ~50 ms to start (an isolate, its script): they start now, while this thread reads the header.
  try {
    if ((await stat(file)).size >= minBytes) for (let k = 1; k < threads; k++) startWorker();
  } catch { /* the read below says what is wrong with the file */ }
  let because: string | undefined;
  const table = new InsightTable();
  try {
    const result = await readReport(file, table, opts, async (samplesAt, size) => {
      if (size - samplesAt < minBytes) { because = 'the report is small'; return undefined; }
      const cuts = await findCuts(file, samplesAt, size, threads);
      if (typeof cuts === 'string') { because = cuts; return undefined; }
      const pending = cuts.map((start, k) => {
        const task: RangeTask = {
          file, start, stopAt: k + 1 < cuts.length ? cuts[k + 1] : -1, chunkBytes: opts.chunkBytes, maxEntryBytes: opts.maxEntryBytes,
        };
        if (k >= started.length) startWorker();
        started[k].postMessage(task);
        return results[k];
      });
      return {
        stopAt: cuts[0],
        finish: async () => {
          let rows = 0, resumeAt = -1;
          // Count this thread's rows for the breakdowns while the workers still read (they count theirs).
          table.precount();
          table.prepareAppend();
          for (const [k, p] of pending.entries()) {
            const r = await p;
            // Its isolate (phrases, words, its read buffer) is not needed any more: free it before appending.
            await started[k].terminate();
            if (!r.ok) throw new RangeMismatch(r.message);
            table.appendParts(r.parts);
            // The worker's columns are copied: let them go now (the settled promise keeps this object).
            (r as { parts?: InsightTableParts }).parts = undefined;
            rows += r.rows;
            resumeAt = r.end;
          }
          return { rows, resumeAt };
        },
      };
    });
    if (because !== undefined) return { table, ...result, threads: 1, sequentialBecause: because };
    return { table, ...result, threads };
  } catch (e) {
    // Any failure of the split read (a range that does not line up, a worker that failed or a malformed row in
    // another range) is settled by the one-thread read: the same table, or the error message with its samples[i].
    if (!(e instanceof RangeMismatch)) throw e;
    because = e.message;
  } finally {
    for (const w of started) void w.terminate();
  }
  return sequential(because);
}
