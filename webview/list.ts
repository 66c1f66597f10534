// Virtualized sample list: renders only the rows on screen and pages rows from the host on demand, so 5 million
// rows scroll like 50. Past the browser's maximum element height the scrollbar maps proportionally to rows.
import type { Row, SortDirection, SortKey } from '../src/shared/protocol';
import { FrameScheduler, RowPages, ScrollWindow, type FetchRows } from './virtualWindow';

export const ROW_HEIGHT = 24;
const MAX_CACHED_PAGES = 60;

export interface ListHost {
  fetchRows: FetchRows;
  /** The selection moved (keyboard or click). */
  onSelect(position: number, row: Row | undefined): void;
  /** Enter / double-click: explain the selected row now. */
  onActivate(): void;
  /** Rows on screen that have no metrics yet (debounced). */
  onVisibleUncomputed(indices: number[]): void;
  onSortRequest(key: SortKey): void;
  onScroll(): void;
}

interface Column {
  key: string; label: string; sort?: SortKey; className: string; text(row: Row): string;
  /** The header's tooltip. */
  help: string;
}

const fmt = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits));

const COLUMNS: Column[] = [
  { key: 'state', label: '', className: 'c-state', text: (r) => (r.error ? '⚠' : r.metrics ? '●' : '○'), help: '● computed with the current model · ○ not yet · ⚠ could not be explained' },
  { key: 'index', label: '#', sort: 'index', className: 'c-index', text: (r) => String(r.index), help: 'Position in the file (dataset order); click to sort' },
  { key: 'phrase', label: 'phrase', className: 'c-phrase', text: (r) => r.phrase, help: 'The referring phrase' },
  { key: 'split', label: 'split', className: 'c-split', text: (r) => r.split ?? '', help: 'The split the file assigns' },
  { key: 'hit', label: 'hit', sort: 'hit', className: 'c-hit', text: (r) => (r.metrics ? (r.metrics.hit ? '✓' : '✗') : ''), help: 'Pointing game: ✓ the map’s maximum lies strictly inside a ground-truth box; click to sort misses first' },
  { key: 'lMean', label: 'L_mean', sort: 'lMean', className: 'c-num', text: (r) => fmt(r.metrics?.lMean), help: 'AMC L_mean: mean attention outside the box minus inside plus margin (lower is better); click to sort' },
  { key: 'lMax', label: 'L_max', sort: 'lMax', className: 'c-num', text: (r) => fmt(r.metrics?.lMax), help: 'AMC L_max: how far the strongest attention lies outside the box (lower is better); click to sort' },
  { key: 'score', label: 'score', sort: 'score', className: 'c-num', text: (r) => fmt(r.metrics?.score, 2), help: 'ITM match logit of the phrase and the image; click to sort' },
];

function stateLabel(r: Row | undefined): string {
  if (!r) return 'loading';
  if (r.error) return `error: ${r.error}`;
  return r.metrics ? 'computed' : 'not computed yet';
}

export class VirtualList {
  readonly element: HTMLElement;
  private readonly scroller: ScrollWindow;
  private readonly pages: RowPages;
  private readonly frames = new FrameScheduler(() => this.render());
  private readonly headerCells = new Map<SortKey, HTMLElement>();
  private readonly pool: HTMLElement[] = [];
  private total = 0;
  private selected = -1;
  private computeTimer: ReturnType<typeof setTimeout> | undefined;

  /** Why the ITM score column stays empty ('' = it is filled): the model info's itmNote. */
  private itmNote = '';

  setItmNote(note: string): void {
    if (note === this.itmNote) return;
    this.itmNote = note;
    const cell = this.headerCells.get('score');
    if (cell) cell.title = note ? `ITM score not shown: ${note}` : COLUMNS.find((c) => c.key === 'score')!.help;
    this.render();
  }

  constructor(private readonly host: ListHost) {
    this.element = document.createElement('div');
    this.element.className = 'list';
    this.element.setAttribute('role', 'grid');
    this.element.setAttribute('aria-label', 'Samples');
    this.element.setAttribute('aria-readonly', 'true');

    const header = document.createElement('div');
    header.className = 'list-row list-header';
    header.setAttribute('role', 'row');
    header.setAttribute('aria-rowindex', '1');
    for (const c of COLUMNS) {
      const cell = document.createElement(c.sort ? 'button' : 'div');
      cell.className = `cell ${c.className}`;
      cell.setAttribute('role', 'columnheader');
      cell.textContent = c.label;
      cell.title = c.help;
      if (c.key === 'state') cell.setAttribute('aria-label', 'computed');
      if (c.sort) {
        const key = c.sort;
        cell.setAttribute('aria-description', c.help);
        cell.addEventListener('click', () => host.onSortRequest(key));
        this.headerCells.set(key, cell);
      }
      header.append(cell);
    }

    this.scroller = new ScrollWindow({
      viewportClass: 'list-viewport', layerClass: 'list-rows', lineHeight: ROW_HEIGHT,
      label: 'Sample rows; arrow keys or j/k move, Enter explains, / searches',
      onScroll: () => { this.schedule(); host.onScroll(); },
    });
    this.pages = new RowPages((view, start, limit) => host.fetchRows(view, start, limit), MAX_CACHED_PAGES, (first, end, total) => {
      if (total !== this.total) this.setTotal(total);
      this.schedule();
      if (this.selected >= first && this.selected < end) this.host.onSelect(this.selected, this.rowAt(this.selected));
    });
    new ResizeObserver(() => this.schedule()).observe(this.scroller.viewport);
    this.element.append(header, this.scroller.viewport);
  }

  focus(): void { this.scroller.viewport.focus(); }

  get rowCount(): number { return this.total; }
  get selectedPosition(): number { return this.selected; }
  get scrollPosition(): number { return this.scroller.first; }
  set scrollPosition(first: number) { this.scroller.first = first; this.schedule(); }
  get viewIdentity(): number { return this.pages.view; }

  rowAt(position: number): Row | undefined { return this.pages.rowAt(position); }

  setSortIndicator(key: SortKey, direction: SortDirection): void {
    for (const [k, cell] of this.headerCells) cell.setAttribute('aria-sort', k === key ? (direction === 'asc' ? 'ascending' : 'descending') : 'none');
  }

  /** A new view from the host: drop cached rows. */
  setView(viewId: number, total: number): void {
    this.pages.setView(viewId);
    this.setTotal(total);
    this.element.setAttribute('aria-busy', 'false');
  }

  /** The view grew (large file still indexing). */
  setTotal(total: number): void {
    this.total = total;
    this.element.setAttribute('aria-rowcount', String(total + 1));
    if (this.selected >= total) this.selected = total - 1;
    this.pages.dropShortPagesAtEnd(total);
    this.scroller.setLines(total, ROW_HEIGHT);
    this.schedule();
  }

  /** Newly computed rows replace cached ones with the same dataset index. */
  updateRows(rows: Row[]): void {
    if (this.pages.update(rows)) this.schedule();
  }

  select(position: number, notify = true): void {
    if (this.total === 0) return;
    this.selected = Math.max(0, Math.min(this.total - 1, position));
    this.scroller.ensureVisible(this.selected);
    this.schedule();
    if (notify) this.host.onSelect(this.selected, this.rowAt(this.selected));
  }

  /** Keyboard: returns true when the key was handled. */
  handleKey(e: KeyboardEvent): boolean {
    const page = Math.max(1, this.scroller.fullLinesOnScreen() - 1);
    const move = (to: number) => { this.select(to); return true; };
    switch (e.key) {
      case 'ArrowDown': case 'j': return move(this.selected < 0 ? 0 : this.selected + 1);
      case 'ArrowUp': case 'k': return move(this.selected < 0 ? 0 : this.selected - 1);
      case 'PageDown': return move(this.selected + page);
      case 'PageUp': return move(this.selected - page);
      case 'Home': return move(0);
      case 'End': return move(this.total - 1);
      case 'Enter': this.host.onActivate(); return true;
      default: return false;
    }
  }

  private schedule(): void { this.frames.schedule(); }

  /** Render synchronously (tests and first paint). */
  render(): void {
    const first = Math.floor(this.scroller.first);
    const count = Math.min(this.total - first, this.scroller.fullLinesOnScreen() + 2);
    this.scroller.placeLayer();
    while (this.pool.length < Math.max(0, count)) {
      const el = document.createElement('div');
      el.className = 'list-row';
      el.setAttribute('role', 'row');
      for (const c of COLUMNS) {
        const cell = document.createElement('div');
        cell.className = `cell ${c.className}`;
        cell.setAttribute('role', 'gridcell');
        el.append(cell);
      }
      el.addEventListener('click', () => this.select(Number(el.dataset.position)));
      el.addEventListener('dblclick', () => { this.select(Number(el.dataset.position)); this.host.onActivate(); });
      this.pool.push(el);
      this.scroller.layer.append(el);
    }
    const missing: number[] = [];
    for (let k = 0; k < this.pool.length; k++) {
      const el = this.pool[k];
      if (k >= count) { el.hidden = true; continue; }
      el.hidden = false;
      const position = first + k;
      const row = this.rowAt(position);
      if (!row) missing.push(position);
      el.dataset.position = String(position);
      el.id = `row-${position}`;
      el.setAttribute('aria-rowindex', String(position + 2));
      el.setAttribute('aria-selected', String(position === this.selected));
      el.classList.toggle('selected', position === this.selected);
      el.classList.toggle('miss', row?.metrics?.hit === false);
      el.classList.toggle('loading', !row);
      const cells = el.children;
      for (let c = 0; c < COLUMNS.length; c++) {
        const hidden = this.itmNote && COLUMNS[c].key === 'score'; // the ITM score means nothing for this model
        (cells[c] as HTMLElement).textContent = row && !hidden ? COLUMNS[c].text(row) : c === 2 && !row ? '…' : '';
      }
      // A long phrase is cut with an ellipsis: its tooltip shows it whole.
      (cells[2] as HTMLElement).title = row?.phrase ?? '';
      (cells[0] as HTMLElement).setAttribute('aria-label', stateLabel(row));
      (cells[0] as HTMLElement).title = stateLabel(row);
    }
    if (this.selected >= 0) this.scroller.viewport.setAttribute('aria-activedescendant', `row-${this.selected}`);
    this.pages.need(missing);
    // Rows on screen only: a hidden list (gallery layout, the Explain panel) asks nothing to be computed.
    if (this.scroller.viewport.clientHeight > 0) this.queueCompute(first, count);
    else clearTimeout(this.computeTimer);
  }

  private queueCompute(first: number, count: number): void {
    if (this.computeTimer) clearTimeout(this.computeTimer);
    this.computeTimer = setTimeout(() => {
      const indices: number[] = [];
      for (let p = first; p < first + count; p++) {
        const r = this.rowAt(p);
        if (r && !r.metrics && !r.error) indices.push(r.index);
      }
      if (indices.length) this.host.onVisibleUncomputed(indices);
    }, 150);
  }
}
