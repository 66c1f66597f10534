// The virtual-scroll machinery the sample list and the gallery share (issue 14 item 3): a viewport whose spacer
// stands for every line (a row of the list, a row of thumbnails) while only the lines on screen exist, the mapping
// between scrollTop and the first line on screen — proportional past the browser's maximum element height, so
// 5 million rows scroll like 50 — a paged cache of the host's rows for one view, and one render per frame.
import type { Row } from '../src/shared/protocol';

export const PAGE_ROWS = 100;
const MAX_SPACER_PX = 8_000_000;   // well under Chromium's ~33.5M px element height limit

export interface ScrollWindowOptions {
  viewportClass: string;
  layerClass: string;
  /** The viewport's accessible name (it is the focusable rowgroup the keyboard moves in). */
  label: string;
  /** The height of a line until setLines says otherwise. */
  lineHeight: number;
  /** The first line on screen changed because the user scrolled. */
  onScroll(): void;
}

/** A scrolling viewport over `lines` lines of `lineHeight` px; `first` is the (fractional) line at its top. */
export class ScrollWindow {
  readonly viewport = document.createElement('div');
  /** Where the owner puts the elements of the lines on screen; translated to the viewport's visible top. */
  readonly layer = document.createElement('div');
  private readonly spacer = document.createElement('div');
  private firstExact = 0;
  private lines = 0;
  private lineHeight: number;

  constructor(opts: ScrollWindowOptions) {
    this.lineHeight = opts.lineHeight;
    this.viewport.className = opts.viewportClass;
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute('role', 'rowgroup');
    this.viewport.setAttribute('aria-label', opts.label);
    this.spacer.className = 'list-spacer';
    this.layer.className = opts.layerClass;
    this.viewport.append(this.spacer, this.layer);
    this.viewport.addEventListener('scroll', () => { this.firstExact = this.firstFromScroll(); opts.onScroll(); });
  }

  get first(): number { return this.firstExact; }
  /** Scrolls so that `line` is at the top (clamped to the last screenful). */
  set first(line: number) { this.firstExact = Math.max(0, line); this.syncScrollTop(); }

  /**
   * The number of lines or their height changed: resizes the spacer and keeps the first line in range (or puts
   * `first` at the top: a line of the new layout).
   */
  setLines(lines: number, lineHeight: number, first = this.firstExact): void {
    this.lines = lines;
    this.lineHeight = lineHeight;
    this.firstExact = Math.max(0, first);
    this.spacer.style.height = `${this.spacerHeight()}px`;
    this.syncScrollTop();
  }

  /** Whole lines that fit on screen (at least one). */
  fullLinesOnScreen(): number { return Math.max(1, Math.floor(this.viewport.clientHeight / this.lineHeight)); }

  /** Scrolls the least that brings `line` fully on screen. */
  ensureVisible(line: number): void {
    const visible = this.fullLinesOnScreen();
    if (line < this.firstExact) this.firstExact = line;
    else if (line > this.firstExact + visible - 1) this.firstExact = line - visible + 1;
    else return;
    this.syncScrollTop();
  }

  /** Places the layer so that line `floor(first)` starts at the viewport's top (minus the fraction scrolled). */
  placeLayer(): void {
    const offset = (this.firstExact - Math.floor(this.firstExact)) * this.lineHeight;
    this.layer.style.transform = `translateY(${this.viewport.scrollTop - offset}px)`;
  }

  private spacerHeight(): number { return Math.min(this.lines * this.lineHeight, MAX_SPACER_PX); }
  private scaled(): boolean { return this.lines * this.lineHeight > MAX_SPACER_PX; }
  private maxFirst(): number { return Math.max(0, this.lines - this.fullLinesOnScreen()); }

  private firstFromScroll(): number {
    const top = this.viewport.scrollTop;
    if (!this.scaled()) return top / this.lineHeight;
    const range = Math.max(1, this.spacerHeight() - this.viewport.clientHeight);
    return Math.min(1, top / range) * this.maxFirst();
  }

  private syncScrollTop(): void {
    this.firstExact = Math.min(this.firstExact, this.maxFirst());
    const top = this.scaled()
      ? (this.maxFirst() ? this.firstExact / this.maxFirst() : 0) * Math.max(0, this.spacerHeight() - this.viewport.clientHeight)
      : this.firstExact * this.lineHeight;
    if (Math.abs(this.viewport.scrollTop - top) > 0.5) this.viewport.scrollTop = top;
  }
}

export type FetchRows = (viewId: number, start: number, limit: number) => Promise<{ total: number; rows: Row[] }>;

/** The host's rows of one view, fetched PAGE_ROWS at a time and kept for the last `maxPages` pages. */
export class RowPages {
  private pages = new Map<number, Row[]>();
  private pending = new Set<number>();
  private viewId = -1;

  /** `loaded(first, end, total)`: rows [first, end) arrived; `total` is the view's size as the host now counts it. */
  constructor(
    private readonly fetchRows: FetchRows, private readonly maxPages: number,
    private readonly loaded: (first: number, end: number, total: number) => void,
  ) {}

  get view(): number { return this.viewId; }

  /** A new view from the host: drop cached rows. */
  setView(viewId: number): void {
    this.viewId = viewId;
    this.pages = new Map();
    this.pending = new Set();
  }

  rowAt(position: number): Row | undefined {
    return this.pages.get(Math.floor(position / PAGE_ROWS))?.[position % PAGE_ROWS];
  }

  /** Asks the host for the pages holding these positions unless they are cached or on their way. */
  need(positions: Iterable<number>): void {
    // No view yet (the list grows with the file's progress before setView is answered): the host would refuse the
    // request; setView renders again and asks then.
    if (this.viewId < 0) return;
    const missing = new Set<number>();
    for (const p of positions) if (!this.rowAt(p)) missing.add(Math.floor(p / PAGE_ROWS));
    for (const page of missing) void this.load(page);
  }

  /** The view grew to `total` (a large file still indexing): pages at the end may have been short before. */
  dropShortPagesAtEnd(total: number): void {
    const lastPage = Math.floor(Math.max(0, total - 1) / PAGE_ROWS);
    for (const [p, rows] of this.pages) if (p >= lastPage - 1 && rows.length < PAGE_ROWS) this.pages.delete(p);
  }

  /** Newly computed rows replace cached ones with the same dataset index; true when any did. */
  update(rows: Row[]): boolean {
    const byIndex = new Map(rows.map((r) => [r.index, r]));
    let changed = false;
    for (const page of this.pages.values()) {
      for (let i = 0; i < page.length; i++) {
        const r = byIndex.get(page[i].index);
        if (r) { page[i] = r; changed = true; }
      }
    }
    return changed;
  }

  private async load(page: number): Promise<void> {
    if (this.pending.has(page)) return;
    const viewId = this.viewId;
    this.pending.add(page);
    try {
      const { rows, total } = await this.fetchRows(viewId, page * PAGE_ROWS, PAGE_ROWS);
      if (viewId !== this.viewId) return;
      this.pages.set(page, rows);
      while (this.pages.size > this.maxPages) this.pages.delete(this.pages.keys().next().value as number);
      this.loaded(page * PAGE_ROWS, (page + 1) * PAGE_ROWS, total);
    } catch {
      // A replaced view or a cancelled page: the next render asks again if the rows are still on screen.
    } finally {
      if (viewId === this.viewId) this.pending.delete(page);
    }
  }
}

/** Coalesces render requests into one call per animation frame. */
export class FrameScheduler {
  private frame = 0;
  constructor(private readonly render: () => void) {}
  schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }
}
