// Thumbnail gallery (issue 14 item 3): the current filtered and sorted list as a grid of GradCAM-over-image
// thumbnails, each with its hit/miss badge and L_max. Virtualized like the list (only the rows of cells on screen
// exist; rows are paged from the host; past the browser's maximum element height the scrollbar maps
// proportionally), thumbnails are asked for only for the cells on screen, a few at a time, newest screen first.
import { MAX_THUMBNAILS, type Row, type Thumbnail } from '../src/shared/protocol';
import { drawThumbnail, readPalette, type ColormapName } from './render';
import { FrameScheduler, RowPages, ScrollWindow, type FetchRows } from './virtualWindow';

const MAX_CACHED_PAGES = 40;
const MIN_CELL = 180;
const CAPTION_H = 38;
const CELL_PAD = 6;
const MAX_THUMBS_KEPT = 400;

export interface GalleryHost {
  fetchRows: FetchRows;
  fetchThumbnails(indices: number[], signal: AbortSignal): Promise<Thumbnail[]>;
  /** The selected cell moved (keyboard or click). */
  onSelect(position: number, row: Row | undefined): void;
  /** Click, double-click or Enter: open the sample in the detail view. */
  onOpen(position: number, row: Row | undefined): void;
  colormap(): ColormapName;
}

const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(d));

export class Gallery {
  readonly element = document.createElement('div');
  private readonly scroller: ScrollWindow;
  private readonly pages: RowPages;
  private readonly frames = new FrameScheduler(() => this.render());
  private readonly rowPool: HTMLElement[] = [];
  private readonly thumbs = new Map<number, Thumbnail>();
  private readonly images = new Map<string, { img: HTMLImageElement; ready: boolean; failed: boolean }>();
  private thumbAbort: AbortController | undefined;
  private thumbTimer: ReturnType<typeof setTimeout> | undefined;
  private thumbRunning = new Set<number>();
  private total = 0;
  private selected = -1;
  private columns = 1;
  private cellW = MIN_CELL;

  constructor(private readonly host: GalleryHost) {
    this.element.className = 'gallery';
    this.element.setAttribute('role', 'grid');
    this.element.setAttribute('aria-label', 'Sample gallery');
    this.element.setAttribute('aria-readonly', 'true');
    this.scroller = new ScrollWindow({
      viewportClass: 'gallery-viewport', layerClass: 'gallery-rows', lineHeight: this.rowHeight(),
      label: 'Thumbnails: arrow keys move, Enter opens the sample, / searches',
      onScroll: () => this.schedule(),
    });
    this.pages = new RowPages((view, start, limit) => host.fetchRows(view, start, limit), MAX_CACHED_PAGES, (first, end, total) => {
      if (total !== this.total) this.setTotal(total);
      this.schedule();
      if (this.selected >= first && this.selected < end) this.host.onSelect(this.selected, this.rowAt(this.selected));
    });
    this.element.append(this.scroller.viewport);
    new ResizeObserver(() => { this.relayout(); this.schedule(); }).observe(this.scroller.viewport);
  }

  focus(): void { this.scroller.viewport.focus(); }
  get selectedPosition(): number { return this.selected; }
  get columnCount(): number { return this.columns; }

  rowAt(position: number): Row | undefined { return this.pages.rowAt(position); }

  /** A new view from the host (same ids as the list's): drop cached rows, keep thumbnails (they are per sample). */
  setView(viewId: number, total: number): void {
    this.pages.setView(viewId);
    this.setTotal(total);
    this.scroller.first = 0;
  }

  setTotal(total: number): void {
    this.total = total;
    if (this.selected >= total) this.selected = total - 1;
    this.relayout();
    this.schedule();
  }

  /** Newly computed rows (badges) replace cached ones; their thumbnails are asked for again if on screen. */
  updateRows(rows: Row[]): void {
    if (this.pages.update(rows)) this.schedule();
  }

  /** The colormap changed: thumbnails are redrawn. */
  redraw(): void { for (const el of this.rowPool) for (const c of el.children) delete (c as HTMLElement).dataset.drawn; this.schedule(); }

  select(position: number, notify = true): void {
    if (this.total === 0) return;
    this.selected = Math.max(0, Math.min(this.total - 1, position));
    this.scroller.ensureVisible(Math.floor(this.selected / this.columns));
    this.schedule();
    if (notify) this.host.onSelect(this.selected, this.rowAt(this.selected));
  }

  handleKey(e: KeyboardEvent): boolean {
    const cols = this.columns;
    const pageRows = Math.max(1, this.scroller.fullLinesOnScreen() - 1);
    const move = (to: number) => { this.select(to); return true; };
    const at = this.selected < 0 ? 0 : this.selected;
    switch (e.key) {
      case 'ArrowRight': case 'l': return move(this.selected < 0 ? 0 : at + 1);
      case 'ArrowLeft': case 'h': return move(at - 1);
      case 'ArrowDown': case 'j': return move(this.selected < 0 ? 0 : Math.min(this.total - 1, at + cols));
      case 'ArrowUp': case 'k': return move(at - cols >= 0 ? at - cols : at);
      case 'PageDown': return move(Math.min(this.total - 1, at + cols * pageRows));
      case 'PageUp': return move(Math.max(0, at - cols * pageRows));
      case 'Home': return move(0);
      case 'End': return move(this.total - 1);
      case 'Enter': case ' ': if (this.selected >= 0) this.host.onOpen(this.selected, this.rowAt(this.selected)); return true;
      default: return false;
    }
  }

  private rowHeight(): number { return Math.round(this.cellW * 0.75) + CAPTION_H + CELL_PAD * 2; }
  private rowCount(): number { return Math.ceil(this.total / this.columns); }
  private visibleRows(): number { return Math.max(1, Math.ceil(this.scroller.viewport.clientHeight / this.rowHeight())); }

  /** Columns from the width (call after the gallery becomes visible); the first cell on screen stays on screen. */
  relayout(): void {
    const width = this.scroller.viewport.clientWidth;
    if (width <= 0) return;
    const first = Math.floor(this.scroller.first) * this.columns;
    const columns = Math.max(1, Math.floor(width / MIN_CELL));
    this.cellW = Math.floor(width / columns);
    const firstRow = columns !== this.columns ? Math.floor(first / columns) : this.scroller.first;
    this.columns = columns;
    this.element.setAttribute('aria-rowcount', String(this.rowCount()));
    this.element.setAttribute('aria-colcount', String(this.columns));
    this.element.dataset.columns = String(this.columns);
    this.scroller.setLines(this.rowCount(), this.rowHeight(), firstRow);
  }

  private schedule(): void { this.frames.schedule(); }

  render(): void {
    if (this.scroller.viewport.clientWidth <= 0) return;   // hidden (list layout): nothing to draw or fetch
    const rowH = this.rowHeight(), cols = this.columns;
    const firstRow = Math.floor(this.scroller.first);
    const rows = Math.max(0, Math.min(this.rowCount() - firstRow, this.visibleRows() + 1));
    this.scroller.placeLayer();
    while (this.rowPool.length < rows) {
      const r = document.createElement('div');
      r.className = 'gallery-row';
      r.setAttribute('role', 'row');
      this.rowPool.push(r);
      this.scroller.layer.append(r);
    }
    const missing: number[] = [];
    const onScreen: number[] = [];
    const thumbH = Math.round(this.cellW * 0.75);
    for (let k = 0; k < this.rowPool.length; k++) {
      const rowEl = this.rowPool[k];
      if (k >= rows) { rowEl.hidden = true; continue; }
      rowEl.hidden = false;
      const gridRow = firstRow + k;
      rowEl.style.height = `${rowH}px`;
      rowEl.setAttribute('aria-rowindex', String(gridRow + 1));
      while (rowEl.children.length < cols) rowEl.append(this.makeCell());
      while (rowEl.children.length > cols) rowEl.lastElementChild!.remove();
      for (let c = 0; c < cols; c++) {
        const cell = rowEl.children[c] as HTMLElement;
        const position = gridRow * cols + c;
        cell.style.width = `${this.cellW}px`;
        if (position >= this.total) { cell.hidden = true; continue; }
        cell.hidden = false;
        const row = this.rowAt(position);
        if (!row) missing.push(position);
        this.fillCell(cell, position, row, this.cellW - CELL_PAD * 2, thumbH);
        if (row && !row.error && !this.thumbs.has(row.index)) onScreen.push(row.index);
      }
    }
    if (this.selected >= 0) this.scroller.viewport.setAttribute('aria-activedescendant', `cell-${this.selected}`);
    this.pages.need(missing);
    this.queueThumbnails(onScreen);
  }

  private makeCell(): HTMLElement {
    const cell = document.createElement('div');
    cell.className = 'gallery-cell';
    cell.setAttribute('role', 'gridcell');
    const canvas = document.createElement('canvas');
    canvas.className = 'thumb';
    const badge = document.createElement('span');
    badge.className = 'thumb-badge';
    const lmax = document.createElement('span');
    lmax.className = 'thumb-lmax';
    const caption = document.createElement('div');
    caption.className = 'thumb-caption';
    const note = document.createElement('div');
    note.className = 'thumb-note';
    cell.append(canvas, badge, lmax, note, caption);
    cell.addEventListener('click', () => { const p = Number(cell.dataset.position); this.select(p); this.host.onOpen(p, this.rowAt(p)); });
    return cell;
  }

  private fillCell(cell: HTMLElement, position: number, row: Row | undefined, w: number, h: number): void {
    const [canvas, badge, lmax, note, caption] =
      cell.children as unknown as [HTMLCanvasElement, HTMLElement, HTMLElement, HTMLElement, HTMLElement];
    cell.id = `cell-${position}`;
    cell.dataset.position = String(position);
    cell.setAttribute('aria-colindex', String((position % this.columns) + 1));
    cell.setAttribute('aria-selected', String(position === this.selected));
    cell.classList.toggle('selected', position === this.selected);
    const m = row?.metrics;
    caption.textContent = row ? `#${row.index} ${row.phrase}` : '…';
    caption.title = row?.phrase ?? '';
    badge.textContent = m ? (m.hit ? '✓ hit' : '✗ miss') : '';
    badge.className = `thumb-badge${m ? (m.hit ? ' hit' : ' miss') : ''}`;
    badge.hidden = !m;
    lmax.textContent = m ? `L_max ${fmt(m.lMax)}` : '';
    lmax.hidden = !m;
    cell.setAttribute('aria-label', row
      ? `#${row.index} ${row.phrase}${m ? `, ${m.hit ? 'hit' : 'miss'}, L_max ${fmt(m.lMax)}` : row.error ? `, error: ${row.error}` : ', not computed yet'}`
      : 'loading');
    const t = row ? this.thumbs.get(row.index) : undefined;
    const key = t ? `${t.index}|${w}|${h}|${this.host.colormap()}|${this.imageState(t)}` : `empty|${w}|${h}`;
    if (cell.dataset.drawn === key) return;
    cell.dataset.drawn = key;
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
    note.textContent = row?.error ? `⚠ ${row.error}` : t?.error ? `⚠ ${t.error}` : t?.imageProblem ?? (row && !t ? 'computing…' : '');
    note.classList.toggle('error', !!(row?.error || t?.error || t?.imageProblem));
    cell.dataset.state = t?.gradcam ? 'drawn' : row?.error || t?.error ? 'error' : 'pending';
    if (!t?.gradcam || !t.width || !t.height || !t.grid || !t.point) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
      canvas.getContext('2d')?.clearRect(0, 0, canvas.width, canvas.height);
      return;
    }
    const image = this.imageFor(t);
    const map = { width: t.width, height: t.height, grid: t.grid, gradcam: t.gradcam, point: t.point, boxes: t.boxes };
    drawThumbnail(canvas, w, h, dpr, image, map, this.host.colormap(), 0.5, readPalette());
  }

  private imageState(t: Thumbnail): string {
    if (!t.imageUri) return 'none';
    const e = this.images.get(t.imageUri);
    return e?.ready ? 'ready' : e?.failed ? 'failed' : 'loading';
  }

  /** The thumbnail's image once loaded (samples of one image share it); a load redraws the cells that show it. */
  private imageFor(t: Thumbnail): { source: CanvasImageSource; width: number; height: number } | undefined {
    if (!t.imageUri) return undefined;
    let e = this.images.get(t.imageUri);
    if (!e) {
      const img = new Image();
      img.crossOrigin = 'anonymous';
      img.decoding = 'async';
      const entry = { img, ready: false, failed: false };
      img.onload = () => { entry.ready = true; this.schedule(); };
      img.onerror = () => { entry.failed = true; this.schedule(); };
      img.src = t.imageUri;
      this.images.set(t.imageUri, entry);
      while (this.images.size > 200) this.images.delete(this.images.keys().next().value as string);
      e = entry;
    }
    return e.ready ? { source: e.img, width: e.img.naturalWidth, height: e.img.naturalHeight } : undefined;
  }

  /** Thumbnails of the cells on screen, MAX_THUMBNAILS per request, one request at a time; a new screen replaces the queue. */
  private queueThumbnails(indices: number[]): void {
    if (this.thumbTimer) clearTimeout(this.thumbTimer);
    // The run in flight already covers these cells (a thumbnail arrived and the screen redrew): let it finish.
    if (!indices.length || indices.every((i) => this.thumbRunning.has(i))) return;
    this.thumbTimer = setTimeout(() => {
      this.thumbAbort?.abort();
      const abort = new AbortController();
      this.thumbAbort = abort;
      this.thumbRunning = new Set(indices);
      void (async () => {
        for (let i = 0; i < indices.length && !abort.signal.aborted; i += MAX_THUMBNAILS) {
          const chunk = indices.slice(i, i + MAX_THUMBNAILS).filter((x) => !this.thumbs.has(x));
          if (!chunk.length) continue;
          let got: Thumbnail[];
          try { got = await this.host.fetchThumbnails(chunk, abort.signal); } catch { return; }
          for (const t of got) this.thumbs.set(t.index, t);
          while (this.thumbs.size > MAX_THUMBS_KEPT) this.thumbs.delete(this.thumbs.keys().next().value as number);
          this.schedule();
        }
      })().finally(() => { if (this.thumbAbort === abort) this.thumbRunning = new Set(); });
    }, 120);
  }

  /** Thumbnails belong to one model: drop them when it changes. */
  clearThumbnails(): void { this.thumbs.clear(); this.redraw(); }
}
