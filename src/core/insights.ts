// Where and why a model fails, from the per-query results of an evaluation report (`amc eval --out`): accuracy by
// word, phrase length, GT box area, number of GT boxes and split, where the points of misses land, and L_mean /
// L_max histograms for hits and misses. Pure data, no node or vscode import: the CLI and the viewer share it.
// Rows are kept in columns (typed arrays, phrases and images interned) so a million queries fit in ~100 MB.
import { DEFAULT_MAX_WORDS, preCaption } from './text';

/** One query of a report, as `amc insights` reads it (EvalRow of src/model/evaluate.ts, or the trainer's record). */
export interface InsightRow {
  phrase: string;
  split?: string | null;
  /** Queries with the same image string share their GT boxes for the miss-target breakdown. */
  image?: string;
  /** Ground-truth boxes, xyxy in original-image pixels. */
  boxes: readonly (readonly number[])[];
  /** Original image size in pixels (area fractions and the border need it). */
  width?: number;
  height?: number;
  /** Scored rows have a boolean hit and a point; rows with an error or without a hit are "not scored". */
  hit?: boolean;
  point?: { x: number; y: number };
  lMean?: number;
  lMax?: number;
  error?: string;
}

/** hits / queries of one group, with the Wilson 95 % interval; notScored rows are counted apart, never as misses. */
export interface Rate {
  key: string;
  queries: number;
  hits: number;
  /** NaN (JSON null) when the group has no scored query. */
  accuracy: number;
  low: number;
  high: number;
  notScored: number;
}

export type MissLocation = 'other-box' | 'border' | 'background' | 'size-unknown';

export interface Confusion { phrase: string; landedOn: string; count: number; }

export interface Histogram {
  /** bins + 1 equal-width edges over [min, max] of the scored values (the last bin includes max); [] when none. */
  edges: number[];
  hits: number[];
  misses: number[];
  /** Scored rows without a finite value. */
  missing: number;
  /** With given edges (InsightOptions.histogramEdges) only: scored values outside them, in no bin. */
  outside?: number;
}

export interface Insights {
  rows: number;
  scored: number;
  hits: number;
  notScored: number;
  /** Most frequent reasons of not-scored rows (the `error` text, or 'no hit'), most frequent first. */
  notScoredReasons: { reason: string; count: number }[];
  overall: Rate;
  byWord: { minCount: number; wordsTotal: number; words: Rate[] };
  byLength: Rate[];
  byArea: Rate[];
  byBoxes: Rate[];
  bySplit: Rate[];
  missTarget: {
    misses: number;
    borderMargin: number;
    counts: Record<MissLocation, number>;
    /** Misses inside another query's GT box: the query's phrase → the phrase owning that box, most frequent first. */
    confusions: Confusion[];
    /** Scored queries whose point lands on the same object (GT box) as the point of a query with another phrase. */
    sameObject: { queries: number; misses: number; objects: number };
  };
  histograms: { bins: number; lMean: Histogram; lMax: Histogram };
}

export interface InsightOptions {
  /** Words occurring in fewer scored phrases are left out of byWord (default 5). */
  minCount?: number;
  /** Histogram bins (default 20). */
  bins?: number;
  /** How many confusions to list (default 20). */
  topConfusions?: number;
  /**
   * Bin the L_mean / L_max histograms on these edges (another table's, e.g. the current model's when this is the
   * comparison model's) instead of this table's own range, so that two models' bins line up.
   */
  histogramEdges?: { lMean?: readonly number[]; lMax?: readonly number[] };
}

/** Miss points within this fraction of the width (x) or height (y) of an image edge are "on the border". */
export const BORDER_MARGIN = 0.02;
/** Upper bounds (exclusive) of the GT-area buckets, as a fraction of the image; the last bucket is open. */
export const AREA_BUCKETS: readonly { key: string; below: number }[] = [
  { key: '<1%', below: 0.01 }, { key: '1–5%', below: 0.05 }, { key: '5–10%', below: 0.10 },
  { key: '10–25%', below: 0.25 }, { key: '25–50%', below: 0.50 }, { key: '≥50%', below: Infinity },
];
export const AREA_UNKNOWN = 'size unknown';
const MAX_LENGTH_BUCKET = 10; // lengths 1..9, then "10+"
const MAX_BOXES_BUCKET = 5;   // 1..4 boxes, then "5+"
const Z95 = 1.959963984540054;

/** Wilson score interval for hits / n at 95 % ([NaN, NaN] for n = 0). */
export function wilsonInterval(hits: number, n: number, z = Z95): [number, number] {
  if (n <= 0) return [NaN, NaN];
  const p = hits / n, z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Exact ends at 0 and n hits (rounding would leave 1e-17 or 0.99999999).
  return [hits === 0 ? 0 : Math.max(0, center - half), hits === n ? 1 : Math.min(1, center + half)];
}

export function rate(key: string, hits: number, queries: number, notScored: number): Rate {
  const [low, high] = wilsonInterval(hits, queries);
  return { key, queries, hits, accuracy: queries ? hits / queries : NaN, low, high, notScored };
}

// Most phrases are already lower-case words separated by single spaces: pre_caption leaves those unchanged.
const NORMAL_PHRASE = /^[a-z0-9]+(?: [a-z0-9]+)*$/;

/** Words of a phrase as the model reads it (pre_caption, docs/reference.md §3), split on spaces, empty words dropped. */
export function phraseWords(phrase: string): string[] {
  const text = NORMAL_PHRASE.test(phrase) ? phrase : preCaption(phrase);
  const words = text.split(' ').filter((w) => w.length > 0);
  return words.length > DEFAULT_MAX_WORDS ? words.slice(0, DEFAULT_MAX_WORDS) : words;
}

/** The form an InsightTable keeps a phrase in (its `phrases`): the words of phraseWords joined by single spaces. */
export function phraseKey(raw: string): string {
  return NORMAL_PHRASE.test(raw) ? raw : phraseWords(raw).join(' ');
}

/** Area of the union of xyxy boxes clipped to [0, W]×[0, H] (coordinate compression; a query has few boxes). */
export function unionArea(boxes: ArrayLike<number>, from: number, to: number, width: number, height: number): number {
  const n = (to - from) / 4;
  const clip = (v: number, max: number): number => Math.min(Math.max(v, 0), max);
  if (n === 1) {
    const w = clip(boxes[from + 2], width) - clip(boxes[from], width);
    const h = clip(boxes[from + 3], height) - clip(boxes[from + 1], height);
    return w > 0 && h > 0 ? w * h : 0;
  }
  // Scratch arrays sorted by insertion (2n values): arrays and a sort with a comparator per call were a tenth of
  // the breakdowns' time over a million rows.
  if (2 * n > unionXs.length) { unionXs = new Float64Array(4 * n); unionYs = new Float64Array(4 * n); }
  const xs = unionXs, ys = unionYs;
  for (let k = 0, b = from; b < to; b += 4, k += 2) {
    insertSorted(xs, k, clip(boxes[b], width)); insertSorted(xs, k + 1, clip(boxes[b + 2], width));
    insertSorted(ys, k, clip(boxes[b + 1], height)); insertSorted(ys, k + 1, clip(boxes[b + 3], height));
  }
  const m = 2 * n;
  let area = 0;
  for (let i = 0; i + 1 < m; i++) {
    const x0 = xs[i], x1 = xs[i + 1];
    if (x1 <= x0) continue;
    for (let j = 0; j + 1 < m; j++) {
      const y0 = ys[j], y1 = ys[j + 1];
      if (y1 <= y0) continue;
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      for (let b = from; b < to; b += 4) {
        if (cx > boxes[b] && cx < boxes[b + 2] && cy > boxes[b + 1] && cy < boxes[b + 3]) { area += (x1 - x0) * (y1 - y0); break; }
      }
    }
  }
  return area;
}

let unionXs = new Float64Array(64), unionYs = new Float64Array(64);

/** Put v into a[0 .. count] keeping a[0 .. count) sorted ascending. */
function insertSorted(a: Float64Array, count: number, v: number): void {
  let i = count;
  while (i > 0 && a[i - 1] > v) { a[i] = a[i - 1]; i--; }
  a[i] = v;
}

/** The bucket key of a GT area fraction. */
export function areaBucket(fraction: number): string {
  for (const b of AREA_BUCKETS) if (fraction < b.below) return b.key;
  return AREA_BUCKETS[AREA_BUCKETS.length - 1].key;
}

/** Whether a pixel point is within `margin` of the image size from an edge (x < m·W or x ≥ W − m·W, same for y). */
export function onBorder(x: number, y: number, width: number, height: number, margin = BORDER_MARGIN): boolean {
  return x < margin * width || x >= width - margin * width || y < margin * height || y >= height - margin * height;
}

/**
 * Ids of byte strings (a 32-bit FNV-1a hash of the bytes is given with them): a repeated image path, split or
 * phrase costs a hash and a byte comparison, no string and no Map lookup by string. Every byte is compared, so a
 * hash collision never merges two.
 */
export class ByteIds {
  // Open addressing on typed arrays (a Map with ~10^6 number keys is several times slower here). A slot holds
  // [hash, entry + 1] side by side and an entry [start, length, id]: with 10^6 entries the table is far larger
  // than the caches, and a probe then costs one miss for the slot and one for the entry, not one per array.
  private slots = new Int32Array(2 << 12);
  private arena = new Uint8Array(1 << 16);
  private used = 0;
  private entries = new Uint32Array(3 * 1024);
  private hashes = new Int32Array(1024);
  private count = 0;
  // The entry found or added last, tried first: rows of one image follow each other, and so do its path's lookups.
  private lastHash = 0;
  private lastEntry = -1;

  /** How many byte strings were added (entry e, 0 <= e < size, is the e-th added). */
  get size(): number { return this.count; }
  /** Their bytes in all. */
  get bytes(): number { return this.used; }

  find(buf: Uint8Array, from: number, to: number, hash: number): number {
    if (this.placed < this.count) this.placeAll();
    const slots = this.slots, mask = (slots.length >> 1) - 1, n = to - from;
    const last = this.lastEntry;
    if (hash === this.lastHash && last >= 0 && this.same(last, buf, from, n)) return this.entries[3 * last + 2];
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const e = slots[2 * slot + 1] - 1;
      if (e < 0) return -1;
      if (slots[2 * slot] !== hash || !this.same(e, buf, from, n)) continue;
      this.lastHash = hash;
      this.lastEntry = e;
      return this.entries[3 * e + 2];
    }
  }

  private same(e: number, buf: Uint8Array, from: number, n: number): boolean {
    const entries = this.entries;
    if (entries[3 * e + 1] !== n) return false;
    const a = this.arena, s = entries[3 * e];
    let i = 0;
    while (i < n && a[s + i] === buf[from + i]) i++;
    return i === n;
  }

  /**
   * Add a byte string not in the table (find gave -1). index false: the caller knows it is new (not looked up) and
   * adds many; the slots are filled only when find is next called (a slot write is a cache miss per entry).
   */
  add(buf: Uint8Array, from: number, to: number, hash: number, id: number, index = true): void {
    const n = to - from, e = this.count++;
    if (e >= this.hashes.length) {
      this.hashes = grow(this.hashes, 2 * this.hashes.length);
      this.entries = grow(this.entries, 3 * this.hashes.length);
    }
    if (this.used + n > this.arena.length) {
      const bigger = new Uint8Array(Math.max(this.arena.length * 2, this.used + n));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    const arena = this.arena, at = this.used;
    for (let i = 0; i < n; i++) arena[at + i] = buf[from + i];
    const entries = this.entries;
    entries[3 * e] = at; entries[3 * e + 1] = n; entries[3 * e + 2] = id;
    this.hashes[e] = hash;
    this.lastHash = hash;
    this.lastEntry = e;
    this.used += n;
    if (!index || this.placed < e) return;
    if (4 * this.count > this.slots.length) this.rehash(this.slots.length * 2);
    else { this.place(e); this.placed = this.count; }
  }

  /** Entries [0, placed) are in the slots. */
  private placed = 0;

  private placeAll(): void {
    let slots = this.slots.length;
    while (slots < 4 * this.count) slots *= 2;
    if (slots > this.slots.length) this.rehash(slots);
    else { for (let e = this.placed; e < this.count; e++) this.place(e); this.placed = this.count; }
  }

  /**
   * Room for `entries` entries and `bytes` bytes of them in all, allocated once: each doubling of the slots re-places
   * every entry at a random slot (a cache miss each), which was half the cost of adding 10^5..10^6 phrases.
   */
  reserve(entries: number, bytes: number): void {
    if (entries > this.hashes.length) {
      this.hashes = grow(this.hashes, entries);
      this.entries = grow(this.entries, 3 * entries);
    }
    if (bytes > this.arena.length) {
      // At least doubled: a streaming read reserves batch after batch.
      const bigger = new Uint8Array(Math.max(bytes, 2 * this.arena.length));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    // The slots are sized when they are next filled (find) if entries wait unplaced, or none are in yet (the
    // entries about to come may never be looked up: add(..., false)).
    if (this.placed < this.count || this.count === 0) return;
    let slots = this.slots.length;
    while (slots < 4 * entries) slots *= 2;
    if (slots > this.slots.length) this.rehash(slots);
  }

  /** Entry e's bytes (a view of this table's arena). */
  bytesOf(e: number): Uint8Array {
    const s = this.entries[3 * e];
    return this.arena.subarray(s, s + this.entries[3 * e + 1]);
  }

  /** Entry e's bytes are bytes[entries[3e] .. + entries[3e + 1]), entries[3e + 2] its id (views of this table's arrays). */
  export(withOrder = false): ByteIdsParts {
    const n = this.count;
    return { bytes: this.arena.subarray(0, this.used), entries: this.entries.subarray(0, 3 * n), hashes: this.hashes.subarray(0, n),
      ...(withOrder ? { byHash: this.hashOrder() } : {}) };
  }

  /** The entries in hash order (equal hashes in entry order). */
  hashOrder(): HashOrder { return hashOrderOf(this.hashes, this.count); }


  private place(e: number): void {
    const slots = this.slots, mask = (slots.length >> 1) - 1, hash = this.hashes[e];
    let slot = hash & mask;
    while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
    slots[2 * slot] = hash;
    slots[2 * slot + 1] = e + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let e = 0; e < this.count; e++) this.place(e);
    this.placed = this.count;
  }
}

/** ByteIds.export(). */
export interface ByteIdsParts {
  bytes: Uint8Array; entries: Uint32Array; hashes: Int32Array;
  /** The entries sorted by hash and those hashes (unsigned), when asked for (export(true)). */
  byHash?: HashOrder;
}

/** Entries of a ByteIds in hash order: order[i] is an entry, hashes[i] its hash (unsigned, ascending). */
export interface HashOrder { order: Uint32Array; hashes: Uint32Array }

/** FNV-1a over bytes [from, to), as an int32 (the hash ByteIds takes). */
export function fnv1a(bytes: ArrayLike<number>, from: number, to: number): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
  return hash;
}

class Interner {
  readonly ids = new Map<string, number>();
  readonly values: string[] = [];
  id(value: string): number {
    let id = this.ids.get(value);
    if (id === undefined) { id = this.values.length; this.ids.set(value, id); this.values.push(value); }
    return id;
  }
}

function grow<T extends Float64Array | Uint32Array | Int32Array | Int8Array | Uint8Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const next = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  next.set(a);
  return next;
}

/** matchPhrases: not in that table. */
export const NO_PHRASE = 0xffffffff;

/** Raw phrases not in pre_caption form whose form an InsightTable remembers (pendPhraseText). */
const MAX_RAW_PHRASES = 100_000;

/**
 * Indices 0 .. n - 1 sorted by hashes[i] (as unsigned; equal hashes in index order, stable) and those hashes in
 * that order.
 */
function hashOrderOf(hashes: Int32Array, n: number): HashOrder {
  const order = new Uint32Array(n), sorted = new Uint32Array(n);
  if (n < 4096) {
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => (hashes[a] >>> 0) - (hashes[b] >>> 0) || a - b);
    for (let i = 0; i < n; i++) sorted[i] = hashes[order[i]];
    return { order, hashes: sorted };
  }
  // Two stable counting passes of 16 bits each (least significant first), the hashes carried along.
  const low = new Uint32Array(n), lowHash = new Uint32Array(n), count = new Uint32Array(65537);
  for (let i = 0; i < n; i++) count[(hashes[i] & 0xffff) + 1]++;
  for (let k = 1; k <= 65536; k++) count[k] += count[k - 1];
  for (let i = 0; i < n; i++) { const h = hashes[i] >>> 0, at = count[h & 0xffff]++; low[at] = i; lowHash[at] = h; }
  count.fill(0);
  for (let x = 0; x < n; x++) count[(lowHash[x] >>> 16) + 1]++;
  for (let k = 1; k <= 65536; k++) count[k] += count[k - 1];
  for (let x = 0; x < n; x++) { const h = lowHash[x], at = count[h >>> 16]++; order[at] = low[x]; sorted[at] = h; }
  return { order, hashes: sorted };
}

/** Distinct not-scored reasons an InsightTable names (the rest are counted together as OTHER_REASONS). */
export const MAX_REASONS = 1000;
export const OTHER_REASONS = '(other reasons)';

/** InsightTable.exportParts: one table's rows and interned values, to append to another. */
export interface InsightTableParts {
  size: number;
  status: Int8Array;
  px: Float64Array; py: Float64Array; lMean: Float64Array; lMax: Float64Array; width: Float64Array; height: Float64Array;
  split: Uint32Array; image: Uint32Array; phrase: Uint32Array;
  boxStart: Uint32Array; boxes: Float64Array;
  splits: string[];
  /** Image paths by their UTF-8 bytes; entry e is image e. */
  images: ByteIdsParts;
  /** Phrases (pre_caption form) by their UTF-8 bytes; entry e is phrase ids[e]. */
  phraseKeys: ByteIdsParts;
  phraseWordStart: Uint32Array; phraseWords: Uint32Array; phraseLength: Uint32Array;
  words: string[];
  /** Not-scored reasons with their counts, in the order first seen. */
  reasons: [string, number][];
  /** The sums over these rows that computeInsights needs (InsightTable.precount), when counted already. */
  counts?: RowCounts;
  /** The miss targets summed over these rows' images (phrase ids of these parts), with counts. */
  miss?: MissSums;
}

/** A table's phrases (its phrase keys) and their hash order: what matchPhrases matches against. */
export interface PhraseKeySet { keys: ByteIdsParts; order: HashOrder }

/**
 * For each phrase of `theirs` (another table's phrase keys, id = entry), the id of the same phrase in `mine`, or
 * NO_PHRASE: both walked in hash order, one pass (looking 10^5 phrases up in a table of 10^5 costs a cache
 * miss each); equal hashes are told apart by their bytes.
 */
export function matchPhrases(mine: PhraseKeySet, theirs: ByteIdsParts): Uint32Array {
  const nk = theirs.hashes.length, match = new Uint32Array(nk).fill(NO_PHRASE);
  const their = theirs.byHash ?? hashOrderOf(theirs.hashes, nk);
  const m = mine.keys, nm = mine.order.order.length, mineH = mine.order.hashes, theirsH = their.hashes;
  for (let i = 0, j = 0; i < nm && j < nk;) {
    const hm = mineH[i], ht = theirsH[j];
    if (hm < ht) { i++; continue; }
    if (hm > ht) { j++; continue; }
    let i1 = i;
    while (i1 < nm && mineH[i1] === hm) i1++;
    for (; j < nk && theirsH[j] === hm; j++) {
      const e = their.order[j], from = theirs.entries[3 * e], len = theirs.entries[3 * e + 1];
      for (let x = i; x < i1; x++) {
        const me = mine.order.order[x], at = m.entries[3 * me];
        if (m.entries[3 * me + 1] !== len) continue;
        let k = 0;
        while (k < len && m.bytes[at + k] === theirs.bytes[from + k]) k++;
        if (k === len) { match[theirs.entries[3 * e + 2]] = m.entries[3 * me + 2]; break; }
      }
    }
    i = i1;
  }
  return match;
}

/** Row status values of InsightTable.status. */
export const HIT = 1, MISS = 0, NOT_SCORED = -1;
export const NO_IMAGE = 0xffffffff;
/** Where InsightTable.push finds each number of a row in its `values`. */
export const ROW_PX = 0, ROW_PY = 1, ROW_L_MEAN = 2, ROW_L_MAX = 3, ROW_WIDTH = 4, ROW_HEIGHT = 5, ROW_VALUES = 6;

/**
 * The rows of a report in columns. `add` copies what the breakdowns need and keeps no reference to the row, so a
 * streaming reader can hand over one row object after another.
 */
export class InsightTable {
  size = 0;
  status = new Int8Array(1024);
  px = new Float64Array(1024);
  py = new Float64Array(1024);
  lMean = new Float64Array(1024);
  lMax = new Float64Array(1024);
  width = new Float64Array(1024);
  height = new Float64Array(1024);
  split = new Uint32Array(1024);
  image = new Uint32Array(1024);
  /** Row r's phrase id (see `phrase`); valid for rows before resolvedRows. */
  private ids = new Uint32Array(1024);
  /** Row r's boxes are boxes[boxStart[r] .. boxStart[r + 1]), 4 numbers each. */
  boxStart = new Uint32Array(1025);
  boxes = new Float64Array(4096);
  readonly splits = new Interner();
  // Image paths by their UTF-8 bytes (id e is entry e): a report names up to 10^5..10^6 images, and only their
  // identity counts here (a string and a Map entry each cost more than the bytes).
  private readonly imageKeys = new ByteIds();
  /**
   * Phrases by the UTF-8 bytes of their pre_caption form (ids given by resolvePhrases; id e is entry e): no string
   * is made per phrase (a report has up to millions of distinct ones); phraseText makes one when it is asked for.
   */
  private readonly phraseKeys = new ByteIds();
  private wordStart = new Uint32Array(1025);
  private wordList = new Uint32Array(4096);
  private lengths = new Uint32Array(1024);
  readonly words = new Interner();
  // Rows get their phrase ids in batches (resolvePhrases): a row's phrase waits as bytes (pre_caption form, UTF-8)
  // with their hash, rows [resolvedRows, size) at pending[pendingStart[i] .. pendingStart[i + 1]) for i = r -
  // resolvedRows. Looking each phrase up in a table of 10^5..10^6 phrases as it is read cost ~0.9 us a row (cache
  // misses: 0.9 of 2.8 s reading 1 M rows); sorting a batch by hash and grouping it costs a few passes over arrays.
  private resolvedRows = 0;
  private pending = new Uint8Array(1 << 14);
  private pendingStart = new Uint32Array(1025);
  private pendingHash = new Int32Array(1024);

  /** Row r's phrase id (0 .. phraseCount - 1, in the order phrases first occur). */
  get phrase(): Uint32Array { this.resolvePhrases(); return this.ids; }
  /** Phrase p's distinct word ids are phraseWords[phraseWordStart[p] .. phraseWordStart[p + 1]) (flat: no array per phrase). */
  get phraseWordStart(): Uint32Array { this.resolvePhrases(); return this.wordStart; }
  get phraseWords(): Uint32Array { this.resolvePhrases(); return this.wordList; }
  /** Words in phrase p (with repeats), for the length breakdown. */
  get phraseLength(): Uint32Array { this.resolvePhrases(); return this.lengths; }
  readonly notScoredReasons = new Map<string, number>();
  /** Rows [0, countedRows) are counted in `counts` (precount, appendParts); computeInsights counts the rest. */
  private countedRows = 0;
  private counts: RowCounts<Counter> | undefined;
  /** Miss targets of rows [0, countedRows), each range [missRanges[k], missRanges[k + 1]) grouped by image alone. */
  private miss: MissSums | undefined;
  private missRanges: number[] = [];

  /**
   * Count the rows not counted yet into the sums computeInsights needs, now: a thread that read rows counts them
   * while the others still read (reportReader.ts readReportTable), and a worker's counts travel with its parts.
   */
  precount(): void {
    if (this.countedRows === this.size) return;
    this.resolvePhrases();
    const c = rowCounts(this, this.counts);
    countRows(this, c, this.countedRows, this.size);
    const miss = this.miss ?? emptyMissSums();
    new MissScratch().addRange(this, this.countedRows, this.size, miss);
    this.missRanges.push(this.countedRows);
    this.counts = c;
    this.miss = miss;
    this.countedRows = this.size;
  }

  /** The sums over rows [0, rows) counted so far (undefined: none); not to be changed. */
  precounted(): { rows: number; counts: RowCounts<Counter>; miss: MissSums; missRanges: readonly number[] } | undefined {
    return this.counts && this.miss && this.countedRows > 0
      ? { rows: this.countedRows, counts: this.counts, miss: this.miss, missRanges: this.missRanges } : undefined;
  }

  add(row: InsightRow): void {
    const nBoxes = row.boxes.length;
    if (this.flat.length < 4 * nBoxes) this.flat = new Float64Array(4 * nBoxes);
    for (let i = 0; i < nBoxes; i++) for (let k = 0; k < 4; k++) this.flat[4 * i + k] = row.boxes[i][k];
    const scored = typeof row.hit === 'boolean' && row.error === undefined && row.point !== undefined;
    const v = this.values;
    v[ROW_PX] = scored ? row.point!.x : NaN; v[ROW_PY] = scored ? row.point!.y : NaN;
    v[ROW_L_MEAN] = row.lMean ?? NaN; v[ROW_L_MAX] = row.lMax ?? NaN; v[ROW_WIDTH] = row.width ?? NaN; v[ROW_HEIGHT] = row.height ?? NaN;
    this.pendPhraseText(row.phrase);
    this.push(scored ? (row.hit ? HIT : MISS) : NOT_SCORED, v, this.splitId(row.split),
      this.imageId(row.image), this.flat, nBoxes,
      scored ? undefined : row.error ?? (typeof row.hit !== 'boolean' ? 'no hit' : 'no point'));
  }

  private flat = new Float64Array(64);
  private readonly values = new Float64Array(ROW_VALUES);

  /**
   * Append one row from its parts (its phrase given just before by pendPhrase or pendPhraseText; ids from
   * splitId/imageId; values: point, L_mean, L_max and image size
   * at ROW_PX .. ROW_HEIGHT; boxes: nBoxes × xyxy, flat). status: 1 hit, 0 miss, -1 not scored (then give the
   * reason); NaN for what the row does not state. The numbers come in an array: passed one by one, each double
   * was boxed on the heap (145 MB of garbage per million rows).
   */
  push(status: number, values: Float64Array, split: number, image: number, boxes: ArrayLike<number>,
    nBoxes: number, notScoredReason?: string): void {
    const r = this.size;
    if (r + 1 >= this.status.length) this.reserve(r + 2);
    const b0 = this.boxStart[r];
    if (b0 + 4 * nBoxes > this.boxes.length) this.boxes = grow(this.boxes, b0 + 4 * nBoxes);
    for (let i = 0; i < 4 * nBoxes; i++) this.boxes[b0 + i] = boxes[i];
    this.boxStart[r + 1] = b0 + 4 * nBoxes;
    this.status[r] = status;
    if (status === NOT_SCORED) {
      this.countReason(notScoredReason ?? 'no hit', 1);
    }
    this.px[r] = values[ROW_PX];
    this.py[r] = values[ROW_PY];
    this.lMean[r] = values[ROW_L_MEAN];
    this.lMax[r] = values[ROW_L_MAX];
    const width = values[ROW_WIDTH], height = values[ROW_HEIGHT];
    this.width[r] = width > 0 ? width : NaN;
    this.height[r] = height > 0 ? height : NaN;
    this.split[r] = split;
    this.image[r] = image;
    this.size = r + 1;
  }

  /** Distinct not-scored reasons kept by name; later new ones are counted as OTHER_REASONS. */
  maxReasons = MAX_REASONS;

  private countReason(reason: string, count: number): void {
    const key = this.notScoredReasons.has(reason) || this.notScoredReasons.size < this.maxReasons ? reason : OTHER_REASONS;
    this.notScoredReasons.set(key, (this.notScoredReasons.get(key) ?? 0) + count);
  }

  /**
   * The columns and interned values of the rows so far, to append to another table (appendParts): a worker
   * thread reads a range of a report into its own table and hands this over. The typed arrays are views of this
   * table's own (transferable without a copy): the table is not to be used afterwards.
   */
  exportParts(): InsightTableParts {
    this.resolvePhrases();
    const n = this.size, np = this.phraseKeys.size;
    return {
      size: n, status: this.status.subarray(0, n), px: this.px.subarray(0, n), py: this.py.subarray(0, n),
      lMean: this.lMean.subarray(0, n), lMax: this.lMax.subarray(0, n), width: this.width.subarray(0, n),
      height: this.height.subarray(0, n), split: this.split.subarray(0, n), image: this.image.subarray(0, n),
      phrase: this.ids.subarray(0, n), boxStart: this.boxStart.subarray(0, n + 1), boxes: this.boxes.subarray(0, this.boxStart[n]),
      splits: this.splits.values.slice(), images: this.imageKeys.export(),
      phraseKeys: this.phraseKeys.export(true), phraseWordStart: this.wordStart.subarray(0, np + 1),
      phraseWords: this.wordList.subarray(0, this.wordStart[np]), phraseLength: this.lengths.subarray(0, np),
      words: this.words.values.slice(), reasons: [...this.notScoredReasons],
      ...(this.counts && this.miss && this.countedRows === n && this.missRanges.length === 1
        ? { counts: this.counts, miss: this.miss } : {}),
    };
  }

  /**
   * Room for `rows` rows, `boxes` boxes and `phraseBytes` bytes of their waiting phrases in all, allocated once (a
   * reader that can estimate the count from the file size saves the doubling and the garbage it leaves: a 1 M-row
   * table's columns are ~150 MB).
   */
  reserveRows(rows: number, boxes: number, phraseBytes = 0): void {
    if (rows + 1 > this.status.length) this.reserve(rows + 1);
    this.boxes = grow(this.boxes, 4 * boxes);
    const waiting = rows - this.resolvedRows;
    this.pendingStart = grow(this.pendingStart, waiting + 1);
    this.pendingHash = grow(this.pendingHash, waiting);
    this.pending = grow(this.pending, phraseBytes);
  }

  /** Bytes of the phrases of the rows that wait for their ids (see resolvePhrases). */
  get pendingPhraseBytes(): number { return this.pendingStart[this.size - this.resolvedRows]; }

  /** Room for `count` distinct phrases of `bytes` bytes in all (their table, word lists and lengths). */
  private reservePhrases(count: number, bytes: number): void {
    this.phraseKeys.reserve(count, bytes);
    this.wordStart = grow(this.wordStart, count + 2);
    this.lengths = grow(this.lengths, count + 1);
    const np = this.phraseKeys.size;
    this.wordList = grow(this.wordList, Math.ceil((np ? this.wordStart[np] / np : 4) * count * 1.05));
  }

  /**
   * This table's phrases in hash order, for appendParts (kept until a phrase is added): a reader calls it while
   * it waits for the other ranges, so that the append does not sort them.
   */
  prepareAppend(): HashOrder {
    this.resolvePhrases();
    if (this.appendOrder?.order.length !== this.phraseKeys.size) this.appendOrder = this.phraseKeys.hashOrder();
    return this.appendOrder;
  }

  private appendOrder: HashOrder | undefined;

  /** This table's phrases and their hash order (views of its own arrays), for matchPhrases. */
  phraseKeySet(): PhraseKeySet {
    const order = this.prepareAppend();
    return { keys: this.phraseKeys.export(), order };
  }

  /**
   * Append the rows of another table (exportParts) after these, as if they had been pushed one by one: ids of
   * splits, images, phrases and words new to this table are given in the order the other table first saw them,
   * so reading a report in ranges and appending them in order gives exactly the table of one sequential read.
   * Phrases are matched by the bytes of their pre_caption form, and a new phrase takes its word list from the other
   * table (a word new here first occurs in a phrase new here, so words keep their sequential order too).
   * The other table must have kept every distinct not-scored reason (maxReasons: Infinity) for the counts to be exact.
   */
  appendParts(p: InsightTableParts): void {
    this.resolvePhrases();
    const splitMap = p.splits.map((v) => this.splits.id(v));
    const ik = p.images, imageMap = new Uint32Array(ik.hashes.length);
    for (let e = 0; e < imageMap.length; e++) {
      const from = ik.entries[3 * e];
      imageMap[ik.entries[3 * e + 2]] = this.imageIdOfBytes(ik.bytes, from, from + ik.entries[3 * e + 1], ik.hashes[e]);
    }
    const wordMap = new Int32Array(p.words.length).fill(-1);
    const k = p.phraseKeys;
    const nk = k.hashes.length;
    this.reservePhrases(this.phraseKeys.size + nk, this.phraseKeys.bytes + k.bytes.length);
    // Their phrases found among these.
    const phraseMap = matchPhrases(this.phraseKeySet(), k);
    // Theirs not here are new, numbered in the order they first occur there.
    for (let e = 0; e < nk; e++) {
      const other = k.entries[3 * e + 2];
      if (phraseMap[other] !== NO_PHRASE) continue;
      const from = k.entries[3 * e], to = from + k.entries[3 * e + 1];
      const id = this.phraseKeys.size;
      this.phraseKeys.add(k.bytes, from, to, k.hashes[e], id, false);
      const w0 = p.phraseWordStart[other], w1 = p.phraseWordStart[other + 1];
      const start = this.wordStart[id];
      if (start + w1 - w0 > this.wordList.length) this.wordList = grow(this.wordList, 2 * (start + w1 - w0));
      for (let i = w0; i < w1; i++) {
        const w = p.phraseWords[i];
        if (wordMap[w] < 0) wordMap[w] = this.wordId(p.words[w]);
        this.wordList[start + i - w0] = wordMap[w];
      }
      this.wordStart[id + 1] = start + w1 - w0;
      this.lengths[id] = p.phraseLength[other];
      phraseMap[other] = id;
    }
    const r0 = this.size, n = p.size;
    this.reserve(r0 + n + 1);
    this.status.set(p.status, r0); this.px.set(p.px, r0); this.py.set(p.py, r0);
    this.lMean.set(p.lMean, r0); this.lMax.set(p.lMax, r0); this.width.set(p.width, r0); this.height.set(p.height, r0);
    for (let i = 0; i < n; i++) {
      this.split[r0 + i] = splitMap[p.split[i]];
      this.image[r0 + i] = p.image[i] === NO_IMAGE ? NO_IMAGE : imageMap[p.image[i]];
      this.ids[r0 + i] = phraseMap[p.phrase[i]];
    }
    const b0 = this.boxStart[r0];
    this.boxes = grow(this.boxes, b0 + p.boxStart[n]);
    this.boxes.set(p.boxes.subarray(0, p.boxStart[n]), b0);
    for (let i = 1; i <= n; i++) this.boxStart[r0 + i] = b0 + p.boxStart[i];
    for (const [reason, count] of p.reasons) this.countReason(reason, count);
    this.size = r0 + n;
    this.resolvedRows = this.size;
    if (p.counts && p.miss && this.countedRows === r0) this.appendCounts(p, splitMap, wordMap, phraseMap);
  }

  /** Add the counts of appended parts (their rows follow rows counted here) under this table's split and word ids. */
  private appendCounts(p: InsightTableParts, splitMap: readonly number[], wordMap: Int32Array, phraseMap: Uint32Array): void {
    const counts = p.counts!;
    // Every word counted there occurs in a phrase appended here: new phrases mapped their words, known ones
    // were interned with their words before.
    for (let w = 0; w < wordMap.length; w++) {
      if (wordMap[w] >= 0 || (counts.byWord.queries[w] === 0 && counts.byWord.notScored[w] === 0)) continue;
      wordMap[w] = this.findWord(p.words[w]);
      if (wordMap[w] < 0) return;   // cannot happen; the rows stay uncounted and computeInsights counts them
    }
    const c = rowCounts(this, this.counts);
    c.overall.addFrom(counts.overall); c.byLength.addFrom(counts.byLength); c.byBoxes.addFrom(counts.byBoxes);
    c.byArea.addFrom(counts.byArea); c.bySplit.addFrom(counts.bySplit, splitMap); c.byWord.addFrom(counts.byWord, wordMap);
    const miss = this.miss ?? emptyMissSums();
    addMissSums(miss, p.miss!, phraseMap);
    this.missRanges.push(this.countedRows);
    this.counts = c;
    this.miss = miss;
    this.countedRows = this.size;
  }

  splitId(split: string | null | undefined): number { return this.splits.id(split ?? '(none)'); }
  imageId(image: string | undefined): number {
    if (image === undefined) return NO_IMAGE;
    const bytes = this.encoder.encode(image);
    return this.imageIdOfBytes(bytes, 0, bytes.length, fnv1a(bytes, 0, bytes.length));
  }

  /** The id of the image whose path is the UTF-8 bytes [from, to) of buf (FNV-1a hash given), new ones numbered next. */
  imageIdOfBytes(buf: Uint8Array, from: number, to: number, hash: number): number {
    const known = this.imageKeys.find(buf, from, to, hash);
    if (known >= 0) return known;
    const id = this.imageKeys.size;
    this.imageKeys.add(buf, from, to, hash, id);
    return id;
  }

  /** How many distinct images (ids 0 .. imageCount - 1). */
  get imageCount(): number { return this.imageKeys.size; }

  /** Every image path in id order (a string each: for tests and small tables). */
  imageList(): string[] {
    return Array.from({ length: this.imageCount }, (_, i) => this.decoder.decode(this.imageKeys.bytesOf(i)));
  }

  /**
   * The phrase of the row pushed next (push), as the UTF-8 bytes [from, to) of its pre_caption form (a reader whose
   * raw phrase is already in that form, lower-case words and single spaces, gives them as read) and their FNV-1a
   * hash. The row gets its id in resolvePhrases.
   */
  pendPhrase(buf: Uint8Array, from: number, to: number, hash: number): void {
    const i = this.size - this.resolvedRows, n = to - from;
    if (i + 2 > this.pendingStart.length) {
      this.pendingStart = grow(this.pendingStart, 2 * (i + 2));
      this.pendingHash = grow(this.pendingHash, 2 * (i + 2));
    }
    const at = this.pendingStart[i];
    if (at + n > this.pending.length) this.pending = grow(this.pending, 2 * (at + n));
    const pending = this.pending;
    for (let k = 0; k < n; k++) pending[at + k] = buf[from + k];
    this.pendingStart[i + 1] = at + n;
    this.pendingHash[i] = hash;
  }

  /** pendPhrase of a raw phrase (any text: put in pre_caption form here). */
  pendPhraseText(raw: string): void {
    let key = this.rawPhrase.get(raw);
    if (key === undefined) {
      const normal = phraseKey(raw);
      let bytes: Uint8Array;
      // eslint-disable-next-line no-control-regex -- the test is "all ASCII", and \x00 is ASCII
      if (/^[\x00-\x7f]*$/.test(normal)) {
        if (this.scratch.length < normal.length) this.scratch = new Uint8Array(2 * normal.length);
        for (let i = 0; i < normal.length; i++) this.scratch[i] = normal.charCodeAt(i);
        bytes = this.scratch.subarray(0, normal.length);
      } else bytes = this.encoder.encode(normal);
      // Only phrases not already in that form are remembered (the others cost a regular-expression test).
      if (normal === raw) { this.pendPhrase(bytes, 0, bytes.length, fnv1a(bytes, 0, bytes.length)); return; }
      key = { bytes: bytes.slice(), hash: fnv1a(bytes, 0, bytes.length) };
      if (this.rawPhrase.size < MAX_RAW_PHRASES) this.rawPhrase.set(raw, key);
    }
    this.pendPhrase(key.bytes, 0, key.bytes.length, key.hash);
  }

  private readonly rawPhrase = new Map<string, { bytes: Uint8Array; hash: number }>();

  /**
   * Give the rows that wait (pendPhrase) their phrase ids: the rows are sorted by their phrase's hash, equal
   * phrases grouped (a group's first row leads it), then the rows are taken in order, so that each phrase new to
   * the table gets the next id when its first row comes (ids in the order phrases first occur, as if each row
   * had been looked up as it came), and its words are interned then.
   */
  resolvePhrases(): void {
    const from = this.resolvedRows, n = this.size - from;
    if (n <= 0) return;
    const hashes = this.pendingHash, start = this.pendingStart, bytes = this.pending;
    const { order, hashes: sorted } = hashOrderOf(hashes, n);
    // leader[i]: the first row (pending index) with row i's phrase.
    const leader = new Uint32Array(n);
    const leaders: number[] = [];
    for (let a = 0; a < n;) {
      const h = sorted[a];
      let b = a + 1;
      while (b < n && sorted[b] === h) b++;
      if (b === a + 1) {
        const i = order[a];
        leader[i] = i;
        a = b;
        continue;
      }
      // The same hash: almost always the same phrase. Compared with this run's leaders (the order is stable: a
      // leader comes before the rows it leads).
      leaders.length = 0;
      for (let x = a; x < b; x++) {
        const i = order[x], i0 = start[i], len = start[i + 1] - i0;
        let found = -1;
        for (const j of leaders) {
          const j0 = start[j];
          if (start[j + 1] - j0 !== len) continue;
          let k = 0;
          while (k < len && bytes[j0 + k] === bytes[i0 + k]) k++;
          if (k === len) { found = j; break; }
        }
        if (found < 0) { leaders.push(i); found = i; }
        leader[i] = found;
      }
      a = b;
    }
    // Phrases of earlier batches are in the table; this batch's leaders are distinct from each other.
    const known = this.phraseKeys.size > 0;
    // Room for every row's phrase being new (an upper bound: counting the new ones exactly costs a pass).
    this.reservePhrases(this.phraseKeys.size + n, this.phraseKeys.bytes + start[n]);
    const ids = this.ids;
    for (let i = 0; i < n; i++) {
      const l = leader[i];
      if (l !== i) { ids[from + i] = ids[from + l]; continue; }
      const a = start[i], b = start[i + 1];
      let id = known ? this.phraseKeys.find(bytes, a, b, hashes[i]) : -1;
      if (id < 0) {
        id = this.phraseKeys.size;
        // Into the table's lookup slots only when a later batch looks a phrase up (one read never does).
        this.phraseKeys.add(bytes, a, b, hashes[i], id, known);
        this.internWords(bytes, a, b);
      }
      ids[from + i] = id;
    }
    this.resolvedRows = this.size;
    // A large batch's bytes are not needed any more.
    if (this.pending.length > 1 << 20) {
      this.pending = new Uint8Array(1 << 14); this.pendingStart = new Uint32Array(1025); this.pendingHash = new Int32Array(1024);
    }
    this.pendingStart[0] = 0;
  }

  /** How many distinct phrases (ids 0 .. phraseCount - 1). */
  get phraseCount(): number { this.resolvePhrases(); return this.phraseKeys.size; }

  /** Phrase `id` in its pre_caption form. */
  phraseText(id: number): string {
    const bytes = this.phraseKeys.bytesOf(id);
    let ascii = true;
    for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i] < 0x80;
    // Short ASCII (most phrases) without the decoder's call overhead.
    return ascii && bytes.length <= 256 ? String.fromCharCode.apply(null, bytes as unknown as number[]) : this.decoder.decode(bytes);
  }

  /** Every phrase in id order (a string each: for tests and small tables). */
  phraseList(): string[] {
    return Array.from({ length: this.phraseCount }, (_, i) => this.phraseText(i));
  }

  private scratch = new Uint8Array(256);
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  /** Words by their UTF-8 bytes (entry w is word id w, its string words.values[w]). */
  private readonly wordKeys = new ByteIds();

  /** The words of the newest phrase, bytes [from, to) of its pre_caption form: its distinct word ids and length. */
  private internWords(buf: Uint8Array, from: number, to: number): void {
    const p = this.phraseKeys.size - 1;
    if (p + 2 > this.wordStart.length) this.wordStart = grow(this.wordStart, 2 * (p + 2));
    if (p + 1 > this.lengths.length) this.lengths = grow(this.lengths, 2 * (p + 1));
    const start = this.wordStart[p];
    if (start + DEFAULT_MAX_WORDS > this.wordList.length) this.wordList = grow(this.wordList, 2 * (start + DEFAULT_MAX_WORDS));
    const words = this.wordList;
    let distinct = 0, length = 0;
    for (let i = from; i < to && length < DEFAULT_MAX_WORDS;) {
      let j = i, hash = 0x811c9dc5 | 0;
      while (j < to && buf[j] !== 0x20) { hash = Math.imul(hash ^ buf[j], 0x01000193); j++; }
      if (j > i) {
        length++;
        let w = this.wordKeys.find(buf, i, j, hash);
        if (w < 0) w = this.addWord(buf, i, j, hash);
        let seen = false;
        for (let k = start; k < start + distinct && !seen; k++) seen = words[k] === w;
        if (!seen) words[start + distinct++] = w;
      }
      i = j + 1;
    }
    this.wordStart[p + 1] = start + distinct;
    this.lengths[p] = length;
  }

  private addWord(buf: Uint8Array, from: number, to: number, hash: number): number {
    const w = this.words.id(this.decoder.decode(buf.subarray(from, to)));
    this.wordKeys.add(buf, from, to, hash, w);
    return w;
  }

  /** The id of a word already interned, or -1. */
  private findWord(word: string): number {
    const bytes = this.encoder.encode(word);
    return this.wordKeys.find(bytes, 0, bytes.length, fnv1a(bytes, 0, bytes.length));
  }

  private wordId(word: string): number {
    const bytes = this.encoder.encode(word);
    const hash = fnv1a(bytes, 0, bytes.length);
    const w = this.wordKeys.find(bytes, 0, bytes.length, hash);
    return w >= 0 ? w : this.addWord(bytes, 0, bytes.length, hash);
  }

  private reserve(n: number): void {
    this.status = grow(this.status, n); this.px = grow(this.px, n); this.py = grow(this.py, n);
    this.lMean = grow(this.lMean, n); this.lMax = grow(this.lMax, n);
    this.width = grow(this.width, n); this.height = grow(this.height, n);
    this.split = grow(this.split, n); this.image = grow(this.image, n); this.ids = grow(this.ids, n);
    // boxStart has one entry more than the rows: grown with status, not on its own (its doubling fell behind
    // status' and rows past 2049 lost their box offsets).
    this.boxStart = grow(this.boxStart, this.status.length + 1);
  }
}

/** hits / queries / not-scored counts per key of one breakdown (key = array index). */
class Counter {
  queries: Float64Array; hits: Float64Array; notScored: Float64Array;
  constructor(n: number) { this.queries = new Float64Array(n); this.hits = new Float64Array(n); this.notScored = new Float64Array(n); }
  count(i: number, status: number): void {
    if (status === NOT_SCORED) this.notScored[i]++;
    else { this.queries[i]++; if (status === HIT) this.hits[i]++; }
  }
  rate(i: number, key: string): Rate { return rate(key, this.hits[i], this.queries[i], this.notScored[i]); }
  nonEmpty(i: number): boolean { return this.queries[i] + this.notScored[i] > 0; }
  /** A copy with room for n keys. */
  sized(n: number): Counter {
    const c = new Counter(Math.max(n, this.queries.length));
    c.queries.set(this.queries); c.hits.set(this.hits); c.notScored.set(this.notScored);
    return c;
  }
  /** Add another counter's key i to key map(i) of this one (this one has room for them). */
  addFrom(o: CounterParts, map?: ArrayLike<number>): void {
    for (let i = 0; i < o.queries.length; i++) {
      if (o.queries[i] === 0 && o.notScored[i] === 0) continue;
      const j = map ? map[i] : i;
      this.queries[j] += o.queries[i]; this.hits[j] += o.hits[i]; this.notScored[j] += o.notScored[i];
    }
  }
}

/** A Counter's arrays (a worker thread's counts travel as these). */
export interface CounterParts { queries: Float64Array; hits: Float64Array; notScored: Float64Array }

/**
 * The breakdowns that are sums over rows (everything but the miss targets and the histograms), keyed by the
 * table's split and word ids: counted where the rows were read (a worker thread counts its range), added up after.
 */
export interface RowCounts<C extends CounterParts = CounterParts> {
  overall: C; bySplit: C; byLength: C; byBoxes: C; byArea: C; byWord: C;
}

const COUNT_NAMES = ['overall', 'bySplit', 'byLength', 'byBoxes', 'byArea', 'byWord'] as const;

/** Empty counts for table t (or a copy of `from` with room for t's splits and words). */
function rowCounts(t: InsightTable, from?: RowCounts<Counter>): RowCounts<Counter> {
  const sizes = {
    overall: 1, bySplit: t.splits.values.length,
    byLength: MAX_LENGTH_BUCKET + 1,           // index = length (0 .. 10+)
    byBoxes: MAX_BOXES_BUCKET + 1,             // index = box count (0 .. 5+)
    byArea: AREA_BUCKETS.length + 1,           // last = size unknown
    byWord: t.words.values.length,
  };
  const out = {} as RowCounts<Counter>;
  for (const k of COUNT_NAMES) out[k] = from ? from[k].sized(sizes[k]) : new Counter(sizes[k]);
  return out;
}

/** Count rows [from, to) of t into c (sized for t). */
function countRows(t: InsightTable, c: RowCounts<Counter>, from: number, to: number): void {
  const { overall, bySplit, byLength, byBoxes, byArea, byWord } = c;
  const phrase = t.phrase, lengths = t.phraseLength, wordStart = t.phraseWordStart, words = t.phraseWords;
  for (let r = from; r < to; r++) {
    const s = t.status[r];
    overall.count(0, s);
    bySplit.count(t.split[r], s);
    const p = phrase[r];
    byLength.count(Math.min(lengths[p], MAX_LENGTH_BUCKET), s);
    for (let i = wordStart[p]; i < wordStart[p + 1]; i++) byWord.count(words[i], s);
    const b0 = t.boxStart[r], b1 = t.boxStart[r + 1];
    byBoxes.count(Math.min((b1 - b0) / 4, MAX_BOXES_BUCKET), s);
    const w = t.width[r], h = t.height[r];
    if (Number.isNaN(w) || Number.isNaN(h)) byArea.count(AREA_BUCKETS.length, s);
    else {
      const frac = unionArea(t.boxes, b0, b1, w, h) / (w * h);
      let bucket = 0;
      while (frac >= AREA_BUCKETS[bucket].below) bucket++;
      byArea.count(bucket, s);
    }
  }
}

/** Every breakdown of the table (see Insights for what each number means). */
export function computeInsights(t: InsightTable, opts: InsightOptions = {}): Insights {
  const minCount = opts.minCount ?? 5;
  const bins = Math.max(1, opts.bins ?? 20);
  const n = t.size;
  t.resolvePhrases();   // words are interned with the phrases: before the counters are sized

  // Rows counted already (InsightTable.precount: where they were read), then the rest.
  const pre = t.precounted();
  const c = rowCounts(t, pre?.counts);
  countRows(t, c, pre?.rows ?? 0, n);
  const { overall, bySplit, byLength, byBoxes, byArea, byWord } = c;

  const words: Rate[] = [];
  for (let w = 0; w < t.words.values.length; w++) {
    if (byWord.queries[w] >= minCount && byWord.nonEmpty(w)) words.push(byWord.rate(w, t.words.values[w]));
  }
  // Worst first; a word only in not-scored rows (--min-count 0) has no accuracy and goes last.
  const worst = (r: Rate): number => (r.queries ? r.accuracy : Infinity);
  words.sort((a, b) => worst(a) - worst(b) || b.queries - a.queries || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

  const lengthRates: Rate[] = [];
  if (byLength.nonEmpty(0)) lengthRates.push(byLength.rate(0, '0'));
  for (let i = 1; i <= MAX_LENGTH_BUCKET; i++) lengthRates.push(byLength.rate(i, i === MAX_LENGTH_BUCKET ? `${i}+` : String(i)));
  const boxRates: Rate[] = [];
  if (byBoxes.nonEmpty(0)) boxRates.push(byBoxes.rate(0, '0'));
  for (let i = 1; i <= MAX_BOXES_BUCKET; i++) boxRates.push(byBoxes.rate(i, i === MAX_BOXES_BUCKET ? `${i}+` : String(i)));
  const areaRates = AREA_BUCKETS.map((b, i) => byArea.rate(i, b.key));
  if (byArea.nonEmpty(AREA_BUCKETS.length)) areaRates.push(byArea.rate(AREA_BUCKETS.length, AREA_UNKNOWN));

  const reasons = [...t.notScoredReasons].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([reason, count]) => ({ reason, count }));
  return {
    rows: n,
    scored: overall.queries[0],
    hits: overall.hits[0],
    notScored: overall.notScored[0],
    notScoredReasons: reasons,
    overall: overall.rate(0, 'all'),
    byWord: { minCount, wordsTotal: t.words.values.length, words },
    byLength: lengthRates,
    byArea: areaRates,
    byBoxes: boxRates,
    // A file without splits has no split breakdown (not one "(none)" row that repeats the overall accuracy).
    bySplit: t.splits.values.length === 1 && t.splits.values[0] === '(none)' ? [] : t.splits.values.map((key, i) => bySplit.rate(i, key)),
    missTarget: missTargets(t, opts.topConfusions ?? 20),
    histograms: {
      bins,
      lMean: histogram(t, t.lMean, bins, opts.histogramEdges?.lMean),
      lMax: histogram(t, t.lMax, bins, opts.histogramEdges?.lMax),
    },
  };
}

function histogram(t: InsightTable, values: Float64Array, bins: number, given?: readonly number[]): Histogram {
  if (given) return histogramOn(t, values, given);
  let lo = Infinity, hi = -Infinity, missing = 0;
  for (let r = 0; r < t.size; r++) {
    if (t.status[r] === NOT_SCORED) continue;
    const v = values[r];
    if (!Number.isFinite(v)) { missing++; continue; }
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return { edges: [], hits: [], misses: [], missing };
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + i * width));
  const hits = new Array<number>(bins).fill(0), misses = new Array<number>(bins).fill(0);
  for (let r = 0; r < t.size; r++) {
    const s = t.status[r], v = values[r];
    if (s === NOT_SCORED || !Number.isFinite(v)) continue;
    let bin = width > 0 ? Math.floor((v - lo) / width) : 0;
    if (bin >= bins) bin = bins - 1;
    // Floating-point division can land a value one bin off its edges; the edges decide.
    while (bin > 0 && v < edges[bin]) bin--;
    while (bin < bins - 1 && v >= edges[bin + 1]) bin++;
    (s === HIT ? hits : misses)[bin]++;
  }
  return { edges, hits, misses, missing };
}

/** A histogram on given edges (the last bin includes its upper edge); values outside them are counted apart. */
function histogramOn(t: InsightTable, values: Float64Array, edges: readonly number[]): Histogram {
  const bins = edges.length - 1;
  const hits = new Array<number>(Math.max(0, bins)).fill(0), misses = new Array<number>(Math.max(0, bins)).fill(0);
  let missing = 0, outside = 0;
  for (let r = 0; r < t.size; r++) {
    const s = t.status[r], v = values[r];
    if (s === NOT_SCORED) continue;
    if (!Number.isFinite(v)) { missing++; continue; }
    if (bins < 1 || v < edges[0] || v > edges[bins]) { outside++; continue; }
    let lo = 0, hi = bins - 1;   // the last bin b with edges[b] <= v, as histogram() bins
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (edges[mid] <= v) lo = mid; else hi = mid - 1; }
    (s === HIT ? hits : misses)[lo]++;
  }
  return { edges: [...edges], hits, misses, missing, outside };
}

/** Where the points of misses land and which queries point to the same object (see MissScratch), over all rows. */
function missTargets(t: InsightTable, topConfusions: number): Insights['missTarget'] {
  const n = t.size;
  // Ranges whose groups were summed where they were read (precount), then the rows nobody summed.
  const pre = t.precounted();
  // What is added here goes to `delta`: the precounted sums stay as they are (computeInsights can run again), and
  // their confusions (10^5 pairs and more) are not copied.
  const delta = emptyMissSums();
  const starts = pre ? [...pre.missRanges] : [];
  const counted = pre?.rows ?? 0;
  const scratch = new MissScratch();
  if (counted < n) { scratch.addRange(t, counted, n, delta); starts.push(counted); }
  // An image whose rows lie in two or more ranges was summed in parts: take the parts out, add it whole.
  if (starts.length > 1) fixStraddlingImages(t, starts, delta, scratch);
  const sums = pre ? pre.miss : emptyMissSums();
  const total = (k: Exclude<keyof MissSums, 'confusion'>): number => sums[k] + delta[k];

  // The most frequent pairs (count desc, then key), kept in a short sorted list: no sort of every pair.
  const top: [number, number][] = [];
  const offer = (key: number, count: number): void => {
    if (count <= 0 || topConfusions <= 0) return;
    if (top.length === topConfusions) {
      const [lastKey, lastCount] = top[top.length - 1];
      if (count < lastCount || (count === lastCount && key > lastKey)) return;
      top.pop();
    }
    let i = top.length;
    while (i > 0 && (top[i - 1][1] < count || (top[i - 1][1] === count && top[i - 1][0] > key))) i--;
    top.splice(i, 0, [key, count]);
  };
  confusionTotals([sums.confusion, delta.confusion], offer);
  const confusions = top.map(([key, count]) => ({
    phrase: t.phraseText(Math.floor(key / PAIR)), landedOn: t.phraseText(key % PAIR), count,
  }));
  return {
    misses: total('misses'), borderMargin: BORDER_MARGIN,
    counts: { 'other-box': total('otherBox'), border: total('border'), background: total('background'), 'size-unknown': total('sizeUnknown') },
    confusions,
    sameObject: { queries: total('sameQueries'), misses: total('sameMisses'), objects: total('sameObjects') },
  };
}

/** Confusion keys: the query's phrase id × PAIR + the box owner's (exact below 2^26 phrases). */
const PAIR = 2 ** 26;

/** The miss-target numbers summed over groups of rows (each group adds its own: they add up over ranges). */
export interface MissSums {
  misses: number; otherBox: number; border: number; background: number; sizeUnknown: number;
  sameQueries: number; sameMisses: number; sameObjects: number;
  /** Misses by (query phrase id × PAIR + box owner's phrase id). */
  confusion: ConfusionList;
}

function emptyMissSums(): MissSums {
  return { misses: 0, otherBox: 0, border: 0, background: 0, sizeUnknown: 0, sameQueries: 0, sameMisses: 0, sameObjects: 0,
    confusion: { plus: new Float64Array(256), nPlus: 0, minus: new Float64Array(16), nMinus: 0 } };
}

/**
 * Confusions as lists of keys, one per miss: added (plus) or taken out (minus, when an image counted in parts is
 * recounted whole), summed only when they are read (confusionTotals, by sorting). A Map updated per miss, merged
 * key by key across threads, was ~0.1 s of a million rows. Plain data: it travels from a worker thread as is.
 */
export interface ConfusionList { plus: Float64Array; nPlus: number; minus: Float64Array; nMinus: number }

function confusionAdd(c: ConfusionList, key: number, sign: number): void {
  if (sign > 0) {
    if (c.nPlus === c.plus.length) c.plus = grow(c.plus, 2 * c.nPlus);
    c.plus[c.nPlus++] = key;
  } else {
    if (c.nMinus === c.minus.length) c.minus = grow(c.minus, 2 * c.nMinus);
    c.minus[c.nMinus++] = key;
  }
}

/** Every key of `lists` with its count (plus minus minus), in key order; keys whose count is 0 are passed too. */
function confusionTotals(lists: readonly ConfusionList[], visit: (key: number, count: number) => void): void {
  const gather = (pick: (c: ConfusionList) => Float64Array, size: (c: ConfusionList) => number): Float64Array => {
    const all = new Float64Array(lists.reduce((a, c) => a + size(c), 0));
    let at = 0;
    for (const c of lists) { all.set(pick(c).subarray(0, size(c)), at); at += size(c); }
    return all.sort();
  };
  const plus = gather((c) => c.plus, (c) => c.nPlus), minus = gather((c) => c.minus, (c) => c.nMinus);
  for (let i = 0, j = 0; i < plus.length || j < minus.length;) {
    const key = j >= minus.length || (i < plus.length && plus[i] <= minus[j]) ? plus[i] : minus[j];
    let count = 0;
    while (i < plus.length && plus[i] === key) { count++; i++; }
    while (j < minus.length && minus[j] === key) { count--; j++; }
    visit(key, count);
  }
}


/** Add `from` (its phrase ids mapped through phraseMap) to `to`. */
function addMissSums(to: MissSums, from: MissSums, phraseMap?: ArrayLike<number>): void {
  to.misses += from.misses; to.otherBox += from.otherBox; to.border += from.border; to.background += from.background;
  to.sizeUnknown += from.sizeUnknown; to.sameQueries += from.sameQueries; to.sameMisses += from.sameMisses;
  to.sameObjects += from.sameObjects;
  const map = (key: number): number => (phraseMap ? phraseMap[Math.floor(key / PAIR)] * PAIR + phraseMap[key % PAIR] : key);
  const f = from.confusion;
  for (let i = 0; i < f.nPlus; i++) confusionAdd(to.confusion, map(f.plus[i]), 1);
  for (let i = 0; i < f.nMinus; i++) confusionAdd(to.confusion, map(f.minus[i]), -1);
}

/** Images with rows in two or more of the ranges [starts[k], starts[k + 1]) (the last to t.size): re-summed whole. */
function fixStraddlingImages(t: InsightTable, starts: number[], sums: MissSums, scratch: MissScratch): void {
  const nImages = t.imageCount;
  const rangeOf = new Int32Array(nImages).fill(-1);
  const straddles = new Uint8Array(nImages);
  let any = false;
  for (let k = 0; k < starts.length; k++) {
    const end = k + 1 < starts.length ? starts[k + 1] : t.size;
    for (let r = starts[k]; r < end; r++) {
      const g = t.image[r];
      if (g === NO_IMAGE) continue;
      if (rangeOf[g] < 0) rangeOf[g] = k;
      else if (rangeOf[g] !== k && !straddles[g]) { straddles[g] = 1; any = true; }
    }
  }
  if (!any) return;
  const rowsOf = new Map<number, number[]>();
  for (let r = 0; r < t.size; r++) {
    const g = t.image[r];
    if (g !== NO_IMAGE && straddles[g]) { const list = rowsOf.get(g); if (list) list.push(r); else rowsOf.set(g, [r]); }
  }
  for (const list of rowsOf.values()) {
    const rows = Uint32Array.from(list);
    // Take out each range's part as that range summed it (same rows, same order), then add the image whole.
    for (let k = 0, i = 0; k < starts.length; k++) {
      const end = k + 1 < starts.length ? starts[k + 1] : t.size;
      const j0 = i;
      while (i < rows.length && rows[i] < end) i++;
      if (i > j0) scratch.addGroup(t, rows.subarray(j0, i), sums, -1);
    }
    scratch.addGroup(t, rows, sums, 1);
  }
}

/**
 * Where the points of misses land, group by group (scratch arrays reused from group to group). Queries are
 * grouped by image; an object is a distinct GT box (same four numbers) of any query on that image, scored or not.
 * A miss lands "in another box" when its point is strictly inside (the hit rule) one of them: the smallest such
 * box, owned by the first query listing it. Otherwise it is "on the border" when within BORDER_MARGIN of an edge,
 * else "background"; without an image size only "other box" or "size unknown" can be said. A query points to an
 * object: a hit to its smallest own box around the point, a miss to the box found above; an object pointed to
 * by queries of two or more different phrases counts once in `objects`, each of those queries in `queries`.
 */
class MissScratch {
  private uniq = new Float64Array(64 * 4);
  private owner = new Uint32Array(64);
  private rowBoxStart = new Int32Array(64);
  private rowBoxes = new Int32Array(64);
  private pointedAt = new Int32Array(64);
  // Per distinct box of the group: queries pointing to it, misses among them, the phrase of the first, whether
  // another phrase points to it too.
  private objQueries = new Uint32Array(64);
  private objMisses = new Uint32Array(64);
  private objPhrase = new Uint32Array(64);
  private objMixed = new Uint8Array(64);
  private readonly solo = new Uint32Array(1);
  // The group's box table: slot -> distinct-box id, valid where boxSlotGen is this group's generation.
  private boxSlot = new Int32Array(64);
  private boxSlotGen = new Uint32Array(64);
  private generation = 0;

  /** Sum the groups of rows [from, to) (grouped within the range: an image's rows elsewhere are not seen). */
  addRange(t: InsightTable, from: number, to: number, sums: MissSums): void {
    const n = to - from;
    // Rows grouped by image (counting sort); rows without an image are groups of one.
    const nImages = t.imageCount;
    const start = new Uint32Array(nImages + 2);
    for (let r = from; r < to; r++) start[(t.image[r] === NO_IMAGE ? nImages : t.image[r]) + 1]++;
    for (let i = 0; i <= nImages; i++) start[i + 1] += start[i];
    const order = new Uint32Array(n);
    const fill = start.slice(0, nImages + 1);
    for (let r = from; r < to; r++) order[fill[t.image[r] === NO_IMAGE ? nImages : t.image[r]]++] = r;
    for (let g = 0; g < nImages; g++) if (start[g + 1] > start[g]) this.addGroup(t, order.subarray(start[g], start[g + 1]), sums, 1);
    for (let i = start[nImages]; i < n; i++) { this.solo[0] = order[i]; this.addGroup(t, this.solo, sums, 1); }
  }

  /** Add (sign 1) or take out (sign -1) the sums of one group of rows (in table order). */
  addGroup(t: InsightTable, rows: Uint32Array, sums: MissSums, sign: number): void {
    const phrase = t.phrase;
    let anyScored = false;
    for (let i = 0; i < rows.length && !anyScored; i++) anyScored = t.status[rows[i]] !== NOT_SCORED;
    if (!anyScored) return;

    // Distinct boxes of the image, found through a small open-addressing table of this group's boxes (a linear
    // search made it quadratic in the boxes of an image; a Map keyed by strings allocated per box).
    let nUniq = 0;
    let groupBoxes = 0;
    for (let i = 0; i < rows.length; i++) groupBoxes += (t.boxStart[rows[i] + 1] - t.boxStart[rows[i]]) / 4;
    let slotCount = 16;
    while (slotCount < 2 * groupBoxes) slotCount *= 2;
    if (slotCount > this.boxSlot.length) { this.boxSlot = new Int32Array(slotCount); this.boxSlotGen = new Uint32Array(slotCount); }
    if (this.generation === 0xfffffffe) { this.boxSlotGen.fill(0); this.generation = 0; }
    const boxSlot = this.boxSlot, boxSlotGen = this.boxSlotGen, gen = ++this.generation, mask = slotCount - 1;
    // Per row of the group: the distinct-box ids of its boxes, rowBoxes[rowBoxStart[i] .. rowBoxStart[i + 1]).
    if (rows.length + 1 > this.rowBoxStart.length) this.rowBoxStart = new Int32Array(2 * rows.length + 1);
    const rowBoxStart = this.rowBoxStart;
    let uniq = this.uniq, owner = this.owner, rowBoxes = this.rowBoxes;
    let nRowBoxes = 0;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      rowBoxStart[i] = nRowBoxes;
      for (let b = t.boxStart[r]; b < t.boxStart[r + 1]; b += 4) {
        const x1 = t.boxes[b], y1 = t.boxes[b + 1], x2 = t.boxes[b + 2], y2 = t.boxes[b + 3];
        let id = -1;
        const h = Math.imul(x1 | 0, 0x9e3779b1) ^ Math.imul(y1 | 0, 0x85ebca77) ^
          Math.imul(x2 | 0, 0xc2b2ae3d) ^ Math.imul(y2 | 0, 0x27d4eb2f);
        let slot = (h ^ (h >>> 15)) & mask;
        for (; boxSlotGen[slot] === gen; slot = (slot + 1) & mask) {
          const u = boxSlot[slot];
          if (uniq[4 * u] === x1 && uniq[4 * u + 1] === y1 && uniq[4 * u + 2] === x2 && uniq[4 * u + 3] === y2) { id = u; break; }
        }
        if (id < 0) {
          if (4 * (nUniq + 1) > uniq.length) {
            uniq = this.uniq = grow(uniq, 4 * (nUniq + 1)); owner = this.owner = grow(owner, nUniq + 1);
          }
          uniq[4 * nUniq] = x1; uniq[4 * nUniq + 1] = y1; uniq[4 * nUniq + 2] = x2; uniq[4 * nUniq + 3] = y2;
          owner[nUniq] = r;
          boxSlotGen[slot] = gen;
          boxSlot[slot] = nUniq;
          id = nUniq++;
        }
        if (nRowBoxes + 1 > rowBoxes.length) rowBoxes = this.rowBoxes = grow(rowBoxes, nRowBoxes + 1);
        rowBoxes[nRowBoxes++] = id;
      }
    }
    rowBoxStart[rows.length] = nRowBoxes;

    if (rows.length > this.pointedAt.length) this.pointedAt = new Int32Array(2 * rows.length);
    const pointedAt = this.pointedAt;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i], s = t.status[r];
      let target = -1;
      if (s !== NOT_SCORED) {
        const x = t.px[r], y = t.py[r];
        let best = Infinity;
        // A hit points to the smallest of its own boxes around the point; a miss to the smallest box of the image.
        const own = s === HIT;
        const from = own ? rowBoxStart[i] : 0, to = own ? rowBoxStart[i + 1] : nUniq;
        for (let c = from; c < to; c++) {
          const u = own ? rowBoxes[c] : c;
          const x1 = uniq[4 * u], y1 = uniq[4 * u + 1], x2 = uniq[4 * u + 2], y2 = uniq[4 * u + 3];
          if (x > x1 && x < x2 && y > y1 && y < y2) {
            const area = (x2 - x1) * (y2 - y1);
            if (area < best) { best = area; target = u; }
          }
        }
        if (s === MISS) {
          sums.misses += sign;
          if (target >= 0) {
            sums.otherBox += sign;
            const key = phrase[r] * PAIR + phrase[owner[target]];
            confusionAdd(sums.confusion, key, sign);
          } else if (Number.isNaN(t.width[r]) || Number.isNaN(t.height[r])) sums.sizeUnknown += sign;
          else if (onBorder(x, y, t.width[r], t.height[r])) sums.border += sign;
          else sums.background += sign;
        }
      }
      pointedAt[i] = target;
    }

    // Objects pointed to by two or more different phrases.
    if (rows.length > 1) {
      if (nUniq > this.objQueries.length) {
        this.objQueries = new Uint32Array(2 * nUniq); this.objMisses = new Uint32Array(2 * nUniq);
        this.objPhrase = new Uint32Array(2 * nUniq); this.objMixed = new Uint8Array(2 * nUniq);
      }
      const { objQueries, objMisses, objPhrase, objMixed } = this;
      objQueries.fill(0, 0, nUniq); objMisses.fill(0, 0, nUniq); objMixed.fill(0, 0, nUniq);
      for (let i = 0; i < rows.length; i++) {
        const u = pointedAt[i];
        if (u < 0) continue;
        const r = rows[i];
        if (objQueries[u]++ === 0) objPhrase[u] = phrase[r];
        else if (objPhrase[u] !== phrase[r]) objMixed[u] = 1;
        if (t.status[r] === MISS) objMisses[u]++;
      }
      for (let u = 0; u < nUniq; u++) {
        if (!objMixed[u]) continue;
        sums.sameObjects += sign;
        sums.sameQueries += sign * objQueries[u];
        sums.sameMisses += sign * objMisses[u];
      }
    }
  }
}
