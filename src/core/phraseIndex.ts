// Every phrase of a dataset, lower-cased, in UTF-8 blocks ('\n' after each), with each row's start and split: a text
// filter is then Buffer.indexOf over memory (memchr-fast) instead of re-reading and re-parsing the file for every
// keystroke (issue 14 item 4). The large-file readers (vg.ts, amcVg.ts) fill it during their byte-scan indexing, so
// it exists when the user types; rows [0, dataset.count()) are searchable while indexing goes on. Other readers'
// indexes are built by paging (src/editor/listView.ts). Pure: no vscode import.
import { GrowableColumn } from './datasets/jsonScan';

/** Phrases are packed into blocks of this size (a phrase never spans two), so growing never copies the text. */
const BLOCK_BITS = 22;
const BLOCK_BYTES = 1 << BLOCK_BITS;
/** Longer phrases are searched by their first BLOCK_BYTES - 1 bytes. */
const MAX_PHRASE_BYTES = BLOCK_BYTES - 1;
const NEWLINE = 0x0a;

/** The form a phrase is searched in: lower-cased, line breaks as spaces (the needle gets the same). */
export function searchForm(text: string): string {
  return text.toLowerCase().replace(/[\r\n]/g, ' ');
}

export class PhraseIndex {
  private readonly blocks: Buffer[] = [];
  private readonly used: number[] = [];
  /** Row → virtual offset (block << BLOCK_BITS | offset in block). */
  private readonly starts: GrowableColumn;
  /** Row → split id; absent while every row has the first split seen (one per file for most formats). */
  private splitIds: GrowableColumn | undefined;
  private readonly splitNames: string[] = [];
  private readonly splitId = new Map<string, number>();
  private rows = 0;
  /** Set by the reader when it has read the whole file (or stopped where the file stops): no more rows will come. */
  complete = false;

  /** `wide`: more than 1024 blocks (4 GiB of phrase text) possible — offsets stored as float64. */
  constructor(wide = false) {
    this.starts = new GrowableColumn(wide);
  }

  /** Rows pushed (a reader may still truncate the last ones; search only what the dataset has committed). */
  get count(): number { return this.rows; }

  /** Bytes held (text blocks and columns), for memory reports. */
  get byteLength(): number {
    return this.blocks.reduce((sum, b) => sum + b.length, 0) + this.starts.byteLength + (this.splitIds?.byteLength ?? 0);
  }

  /** Room for `length` bytes plus the '\n' in the last block; returns the offset to write at. */
  private reserve(length: number): number {
    const last = this.blocks.length - 1;
    if (last >= 0 && this.used[last] + length + 1 <= BLOCK_BYTES) return this.used[last];
    this.blocks.push(Buffer.allocUnsafe(BLOCK_BYTES));
    this.used.push(0);
    return 0;
  }

  private commit(split: string | undefined, at: number, length: number): void {
    const block = this.blocks.length - 1;
    this.blocks[block][at + length] = NEWLINE;
    this.used[block] = at + length + 1;
    this.starts.push(block * BLOCK_BYTES + at);
    const name = split ?? '';
    let id = this.splitId.get(name);
    if (id === undefined) {
      id = this.splitNames.length;
      this.splitNames.push(name);
      this.splitId.set(name, id);
    }
    if (id !== 0 && !this.splitIds) {
      this.splitIds = new GrowableColumn();
      for (let r = 0; r < this.rows; r++) this.splitIds.push(0);
    }
    this.splitIds?.push(id);
    this.rows++;
  }

  /** Add the next row's phrase (any text; lower-cased here). */
  push(phrase: string, split?: string): void {
    const text = searchForm(phrase);
    let length = Buffer.byteLength(text, 'utf8');
    if (length > MAX_PHRASE_BYTES) length = MAX_PHRASE_BYTES;
    const at = this.reserve(length);
    const written = this.blocks[this.blocks.length - 1].write(text, at, length, 'utf8');
    this.commit(split, at, written);
  }

  /**
   * Add the next row's phrase from the raw bytes between the quotes of a JSON string (`bytes[from, to)`). Plain ASCII
   * without escapes (nearly every VG phrase) is lower-cased byte by byte with no string made; anything else is
   * decoded as JSON and goes through {@link push}. False (nothing added) when the bytes are not a valid JSON string.
   */
  pushJsonString(bytes: Uint8Array, from: number, to: number, split?: string): boolean {
    let plain = to - from <= MAX_PHRASE_BYTES;
    for (let i = from; plain && i < to; i++) { const c = bytes[i]; if (c >= 0x80 || c === 0x5c || c < 0x20) plain = false; }
    if (!plain) {
      let text: unknown;
      try { text = JSON.parse(`"${Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('utf8')}"`); } catch { return false; }
      this.push(text as string, split);
      return true;
    }
    const length = to - from;
    const at = this.reserve(length);
    const block = this.blocks[this.blocks.length - 1];
    for (let i = 0; i < length; i++) {
      const c = bytes[from + i];
      block[at + i] = c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
    }
    this.commit(split, at, length);
    return true;
  }

  /** Drop rows from `rows` on (the entries of an image entry that turned out bad). */
  truncate(rows: number): void {
    if (rows >= this.rows) return;
    this.rows = rows;
    this.starts.truncate(rows);
    this.splitIds?.truncate(rows);
    if (rows === 0) { this.blocks.length = 0; this.used.length = 0; return; }
    // The next row is written where the dropped rows began.
    const at = this.starts.get(rows - 1);
    const block = Math.floor(at / BLOCK_BYTES);
    const end = this.blocks[block].indexOf(NEWLINE, at - block * BLOCK_BYTES) + 1;
    this.blocks.length = block + 1;
    this.used.length = block + 1;
    this.used[block] = end;
  }

  /** The split of a row ('' for none). */
  splitOf(row: number): string { return this.splitNames[this.splitIds ? this.splitIds.get(row) : 0] ?? ''; }

  /**
   * Last row whose start is at or before virtual offset `offset`, searching rows [lo, hi): galloping from `lo`, since
   * the next match is usually a few rows on (a binary search over all rows per match was 2x slower on common words).
   */
  private rowAt(offset: number, lo: number, hi: number): number {
    let step = 1;
    while (lo + step < hi && this.starts.get(lo + step) <= offset) { lo += step; step *= 2; }
    hi = Math.min(hi, lo + step) - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.starts.get(mid) <= offset) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Rows in [fromRow, toRow) whose phrase contains `needle` (matched in {@link searchForm}) and whose split is `split`
   * (null: any; '' : rows without one) and that `keep` admits, ascending.
   */
  matches(needle: string, split: string | null, keep: (row: number) => boolean = () => true,
    fromRow = 0, toRow = this.rows): number[] {
    toRow = Math.min(toRow, this.rows);
    const out: number[] = [];
    if (fromRow >= toRow) return out;
    const wanted = split === null ? -1 : this.splitId.get(split);
    if (wanted === undefined) return out;
    const splitOk = (row: number): boolean => wanted < 0 || (this.splitIds ? this.splitIds.get(row) : 0) === wanted;
    const form = searchForm(needle);
    if (!form) {
      for (let r = fromRow; r < toRow; r++) if (splitOk(r) && keep(r)) out.push(r);
      return out;
    }
    const pattern = Buffer.from(form, 'utf8');
    let row = fromRow;
    let textBlock = -1;
    let text = this.blocks[0];
    while (row < toRow) {
      const start = this.starts.get(row);
      const block = Math.floor(start / BLOCK_BYTES);
      if (block !== textBlock) { text = this.blocks[block].subarray(0, this.used[block]); textBlock = block; }
      const at = text.indexOf(pattern, start - block * BLOCK_BYTES);
      if (at < 0) {
        // Nothing more in this block: go on with the first row of the next one (every block begins with a row).
        const next = this.rowAt((block + 1) * BLOCK_BYTES, row, this.rows);
        if (next >= toRow || this.starts.get(next) < (block + 1) * BLOCK_BYTES) break;
        row = next;
        continue;
      }
      // The pattern holds no '\n', so the match lies inside one phrase: the last row starting at or before it.
      const hit = this.rowAt(block * BLOCK_BYTES + at, row, this.rows);
      if (hit >= toRow) break;
      if (splitOk(hit) && keep(hit)) out.push(hit);
      row = hit + 1;
    }
    return out;
  }
}
