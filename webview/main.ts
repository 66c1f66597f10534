// Annotation viewer webview: toolbar (search, split, sort, misses only), virtualized sample list, detail view with
// the three panes, evaluation summary. Talks to the host only through src/shared/protocol.ts's RequestClient.
import './styles.css';
import { errorMessage } from '../src/core/errors';
import { formatDeltaPts } from '../src/shared/comparison';
import {
  DEFAULT_QUERY, protocolMismatch, RemoteError, RequestClient, type ComparisonInfo, type EvaluationSummary, type ExplanationPayload,
  type InitResult, type MissingImages, type ModelInfo, type PersistedViewState, type Row, type SortKey, type ViewQuery,
} from '../src/shared/protocol';
import { DetailView } from './detail';
import { el } from './dom';
import { Gallery } from './gallery';
import { InsightsPanel } from './insights';
import { VirtualList } from './list';
import * as ui from './ui/toolkit';

interface VsCodeApi { postMessage(message: unknown): void; getState(): unknown; setState(state: unknown): void; }
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const client = new RequestClient((m) => vscode.postMessage(m));
window.addEventListener('message', (e: MessageEvent) => client.receive(e.data));
ui.defineComponents();

const message = errorMessage;
const isCancel = (err: unknown) => err instanceof RemoteError && err.code === 'cancelled';

const SORT_OPTIONS: ReadonlyArray<{ value: string; label: string }> = [
  { value: 'index:asc', label: 'dataset order' },
  { value: 'lMax:desc', label: 'worst L_max first' },
  { value: 'lMean:desc', label: 'worst L_mean first' },
  { value: 'score:asc', label: 'lowest score first' },
  { value: 'score:desc', label: 'highest score first' },
  { value: 'hit:asc', label: 'misses first' },
  { value: 'lMax:asc', label: 'best L_max first' },
  { value: 'lMean:asc', label: 'best L_mean first' },
];

/** What setState kept when this tab was last visible; colormap absent means "use the setting". */
function restoredState(): Omit<PersistedViewState, 'colormap'> & { colormap?: 'jet' | 'viridis' } {
  const s = vscode.getState() as Partial<PersistedViewState> | undefined;
  return {
    query: { ...DEFAULT_QUERY, ...(s?.query ?? {}) },
    selectedIndex: typeof s?.selectedIndex === 'number' ? s.selectedIndex : null,
    scrollPosition: typeof s?.scrollPosition === 'number' ? s.scrollPosition : 0,
    opacity: typeof s?.opacity === 'number' ? s.opacity : 0.5,
    colormap: s?.colormap === 'viridis' || s?.colormap === 'jet' ? s.colormap : undefined,
    altPhrase: typeof s?.altPhrase === 'string' ? s.altPhrase : '',
    layout: s?.layout === 'gallery' ? 'gallery' : 'list',
  };
}

class App {
  private readonly root = document.getElementById('app')!;
  private readonly banner = el('div', 'banner');
  /** What the reader could not read: skipped bad entries and where a file readable in part stops (issue 12 item 5). */
  private readonly readBanner = el('div', 'banner read-banner');
  /** The file's images were not found (issue 14 item 6): stays until they are, with "Choose image folder…". */
  private readonly imagesBanner = el('div', 'banner images-banner');
  private readonly imagesBannerText = el('span', 'images-banner-text');
  private readonly chooseFolderButton: ui.Button;
  private readonly statusLine = el('div', 'status-line');
  /** Metric sorts and misses only: how many rows of the filtered list are not computed yet, with "Compute them". */
  private readonly uncomputedHint = el('div', 'uncomputed-hint');
  private readonly uncomputedText = el('span');
  private readonly computeAllButton: ui.Button;
  private readonly summary = el('section', 'summary');
  private readonly listEmpty = el('div', 'list-empty');
  private readonly resortButton: ui.Button;
  private readonly search: ui.TextInput;
  private readonly splitSelect: ui.Select<string>;
  private readonly sortSelect: ui.Select<string>;
  private readonly missesToggle: ui.Toggle;
  private readonly evaluateButton: ui.Button;
  private readonly list: VirtualList;
  private readonly gallery: Gallery;
  private readonly detail: DetailView;
  private readonly listPane = el('section', 'list-pane');
  private readonly galleryPane = el('section', 'gallery-pane');
  private readonly layoutButtons = new Map<'list' | 'gallery', HTMLButtonElement>();
  private readonly galleryBack = el('div', 'gallery-back');
  private readonly csvButton: ui.Button;
  /** 'list': list | detail. 'gallery': the thumbnail grid; a sample opened from it shows the detail in its place. */
  private layoutMode: 'list' | 'gallery' = 'list';
  private galleryOpen = false;
  private readonly insights: InsightsPanel;
  private init: InitResult | undefined;
  private query: ViewQuery;
  private viewAbort: AbortController | undefined;
  private detailAbort: AbortController | undefined;
  private selectTimer: ReturnType<typeof setTimeout> | undefined;
  private searchTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private shownIndex: number | null = null;
  private restoring: ReturnType<typeof restoredState>;
  private computedCount = 0;
  private pendingResort = 0;

  constructor() {
    this.restoring = restoredState();
    this.query = this.restoring.query;

    this.search = ui.textField({ ariaLabel: 'Search phrases (/)', placeholder: 'search phrases  ( / )', value: this.query.text, size: 24 });
    this.search.onInput(() => {
      if (this.searchTimer) clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.setQuery({ ...this.query, text: this.search.value }), 250);
    });
    this.splitSelect = ui.dropdown<string>([{ value: '', label: 'all splits' }], {
      ariaLabel: 'Split', value: this.query.split ?? '',
      onChange: (v) => this.setQuery({ ...this.query, split: v === '' ? null : v }),
    });
    this.sortSelect = ui.dropdown<string>(SORT_OPTIONS, {
      ariaLabel: 'Sort', value: `${this.query.sortKey}:${this.query.sortDirection}`,
      onChange: (v) => { const [k, d] = v.split(':'); this.setQuery({ ...this.query, sortKey: k as SortKey, sortDirection: d as 'asc' | 'desc' }); },
    });
    this.missesToggle = ui.checkbox('misses only', { checked: this.query.missesOnly, onChange: (c) => this.setQuery({ ...this.query, missesOnly: c }) });
    this.resortButton = ui.button('Re-sort', () => this.setQuery(this.query), { title: 'Include rows computed since the list was sorted' });
    this.resortButton.element.hidden = true;
    this.computeAllButton = ui.button('Compute them', () => { client.request('evaluate', {}).catch((e) => this.showBanner(message(e), 'error')); },
      { ariaLabel: 'Compute every row: Evaluate pointing game on the whole file', title: 'Runs Evaluate pointing game on the whole file (every split); then Re-sort' });
    this.csvButton = ui.button('Export table as CSV', () => { void this.exportCsv(); },
      { ariaLabel: 'Export the filtered, sorted list with every computed metric as CSV', title: 'Every row of the current list (filters and sort applied), with the metrics computed so far' });
    this.chooseFolderButton = ui.button('Choose image folder…', () => { void this.chooseImageFolder(); },
      { appearance: 'primary', ariaLabel: 'Choose the folder this file\'s images are in', title: 'Saved in the setting amc.imageRoots for this file' });
    this.evaluateButton = ui.button('Evaluate pointing game', () => { client.request('evaluate', {}).catch((e) => this.showBanner(message(e), 'error')); },
      { appearance: 'primary', ariaLabel: 'Evaluate the pointing game on the whole dataset' });

    this.list = new VirtualList({
      fetchRows: (viewId, start, limit) => client.request('getRows', { viewId, start, limit }),
      onSelect: (_pos, row) => this.onSelect(row),
      onActivate: () => { const r = this.list.rowAt(this.list.selectedPosition); if (r) this.showSample(r.index, true); },
      onVisibleUncomputed: (indices) => {
        if (this.init && 'error' in this.init.model) return;
        client.request('computeRows', { indices }).catch(() => { /* model errors arrive as modelChanged */ });
      },
      onSortRequest: (key) => {
        const same = this.query.sortKey === key;
        const direction = same ? (this.query.sortDirection === 'asc' ? 'desc' : 'asc') : key === 'index' || key === 'hit' ? 'asc' : 'desc';
        this.setQuery({ ...this.query, sortKey: key, sortDirection: direction });
      },
      onScroll: () => this.saveState(),
    });
    this.gallery = new Gallery({
      fetchRows: (viewId, start, limit) => client.request('getRows', { viewId, start, limit }),
      fetchThumbnails: async (indices, signal) => (await client.request('getThumbnails', { indices }, signal)).thumbnails,
      onSelect: (position) => { this.list.select(position, false); this.saveState(); },
      onOpen: (position, row) => { if (row) this.openFromGallery(position, row.index); },
      colormap: () => this.detail.colormap,
    });
    this.detail = new DetailView({
      explainPhrase: (phrase) => this.explainPhrase(phrase),
      backToSample: () => { if (this.shownIndex !== null) this.showSample(this.shownIndex, true); },
      exportPng: (base64, name) => {
        client.request('savePng', { suggestedName: name, base64 }).then(
          (r) => { if (r.path) this.setStatusNote(`Saved ${r.path}`); },
          (e) => this.showBanner(`Export failed: ${message(e)}`, 'error'));
      },
      revealSource: () => { if (this.shownIndex !== null) void client.request('revealSource', { index: this.shownIndex }).catch((e) => this.showBanner(message(e), 'error')); },
      stateChanged: () => { this.saveState(); this.gallery.redraw(); },
      imageSettled: () => { const e = this.detail.current.explanation; if (e) this.reportShown(e.index, e.phrase); },
      allowImageFolder: () => { void this.allowImageFolder(); },
    }, { opacity: this.restoring.opacity, colormap: this.restoring.colormap ?? 'jet', altPhrase: this.restoring.altPhrase });

    this.insights = new InsightsPanel({
      client, detail: this.detail.element, list: this.list.element,
      applyFilter: (insight) => this.setQuery({ ...this.query, insight }), activeFilter: () => this.query.insight,
    });
    this.layout();
    this.wireEvents();
    document.addEventListener('keydown', (e) => this.onKey(e));
  }

  private layout(): void {
    this.banner.hidden = true;
    this.readBanner.hidden = true;
    this.imagesBanner.hidden = true;
    this.imagesBanner.dataset.kind = 'warning';
    this.imagesBanner.setAttribute('role', 'status');
    this.imagesBanner.append(this.imagesBannerText, this.chooseFolderButton.element);
    this.galleryBack.hidden = true;
    this.statusLine.setAttribute('role', 'status');
    this.statusLine.setAttribute('aria-live', 'polite');
    const toolbar = el('div', 'toolbar');
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Filter and sort samples');
    const layoutSwitch = el('div', 'layout-switch');
    layoutSwitch.setAttribute('role', 'radiogroup');
    layoutSwitch.setAttribute('aria-label', 'Layout');
    for (const [mode, label] of [['list', '☰ List'], ['gallery', '▦ Gallery']] as const) {
      const b = el('button', 'layout-button', label);
      b.type = 'button';
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', String(mode === 'list'));
      b.addEventListener('click', () => this.setLayout(mode));
      this.layoutButtons.set(mode, b);
      layoutSwitch.append(b);
    }
    toolbar.append(layoutSwitch, this.search.element, this.splitSelect.element, el('span', 'control-label', 'Sort'), this.sortSelect.element,
      this.missesToggle.element, this.resortButton.element, this.evaluateButton.element, this.csvButton.element);
    this.listPane.setAttribute('aria-label', 'Sample list');
    this.listEmpty.hidden = true;
    this.listEmpty.setAttribute('role', 'status');
    this.listPane.append(this.list.element, this.listEmpty);
    this.galleryPane.setAttribute('aria-label', 'Sample gallery');
    this.galleryPane.append(this.gallery.element);
    const back = ui.button('← Gallery', () => this.closeGalleryDetail(), { ariaLabel: 'Back to the gallery (Escape)', title: 'Back to the gallery (Escape); j / k move to the next sample' });
    this.galleryBack.append(back.element, el('span', 'control-label', 'Esc returns to the gallery · j / k: next / previous sample'));
    this.detail.element.prepend(this.galleryBack);
    const main = el('main', 'main');
    main.append(this.listPane, this.galleryPane, this.insights.element);
    this.summary.setAttribute('aria-label', 'Pointing-game accuracy per split');
    this.summary.hidden = true;
    this.uncomputedHint.hidden = true;
    this.uncomputedHint.setAttribute('role', 'status');
    this.uncomputedHint.append(this.uncomputedText, this.computeAllButton.element);
    this.root.replaceChildren(
      this.banner, this.readBanner, this.imagesBanner, toolbar, this.statusLine, this.uncomputedHint, main, this.summary,
    );
  }

  private wireEvents(): void {
    client.on('rowsComputed', ({ rows, computedCount }) => {
      this.list.updateRows(rows);
      this.gallery.updateRows(rows);
      this.computedCount = computedCount;
      if (this.query.sortKey !== 'index' || this.query.missesOnly) {
        this.pendingResort += rows.filter((r) => r.metrics).length;
        this.resortButton.setLabel(`Re-sort (${this.pendingResort} new)`);
        this.resortButton.element.hidden = this.pendingResort === 0;
      }
      this.renderStatus();
    });
    client.on('datasetProgress', (p) => {
      if (!this.init) return;
      this.init.count = p.count;
      this.init.indexingComplete = p.indexingComplete;
      this.init.problemCount = p.problemCount;
      this.init.badEntries = p.badEntries;
      this.init.stoppedEarly = p.stoppedEarly;
      this.indexError = p.error;
      this.renderReadBanner();
      if (p.splits.length !== this.init.splits.length) { this.init.splits = p.splits; this.fillSplits(); }
      if (this.isIdentityQuery()) { this.list.setTotal(p.count); this.gallery.setTotal(p.count); }
      if (p.error) this.showBanner(`Could not read the file: ${p.error}`, 'error');
      this.renderStatus();
      this.updateListEmpty();
    });
    client.on('evaluation', (s) => this.renderSummary(s));
    client.on('missingImages', ({ missingImages }) => this.renderImagesBanner(missingImages ?? undefined));
    client.on('filterProgress', ({ scanned, total, matches, from, viewId, complete, uncomputed }) => {
      if (viewId !== undefined) {
        // A filter answered while the file is still being read: its list grows as the host searches the new rows.
        if (viewId !== this.list.viewIdentity) return;
        this.list.setTotal(matches);
        this.gallery.setTotal(matches);
        if (uncomputed !== undefined) this.renderUncomputed(uncomputed);
        this.setFilterCount(matches, !complete, scanned);
        this.updateListEmpty();
        return;
      }
      if (this.listEmpty.hidden || this.list.element.getAttribute('aria-busy') !== 'true') return;
      const found = `${matches.toLocaleString('en-US')} match${matches === 1 ? '' : 'es'} ${from > 0 ? `in rows ${from.toLocaleString('en-US')}+` : 'so far'}`;
      const text = `${found} · indexing phrases for search (once per file): `
        + `${scanned.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}…`;
      this.listEmpty.replaceChildren(ui.progressRing(text), el('span', undefined, text));
    });
    client.on('comparisonChanged', ({ comparison }) => {
      if (!this.init) return;
      this.init.comparison = comparison;
      this.renderModel();
      this.renderStatus();
      // Only the second map changes: ask the comparison model about what is on screen.
      const shown = this.detail.current.explanation;
      if (shown && this.shownIndex !== null) {
        const abort = this.detailAbort ?? new AbortController();
        void this.explainComparison(this.shownIndex, shown.index === null ? shown.phrase : undefined, abort, true);
      }
    });
    client.on('modelChanged', ({ model, computedCount, comparison }) => {
      if (!this.init) return;
      this.init.model = model;
      this.init.comparison = comparison;
      this.computedCount = computedCount;
      this.summary.hidden = true;   // the evaluation belonged to the old model
      this.gallery.clearThumbnails();
      this.renderModel();
      this.setQuery(this.query);
      if (this.shownIndex !== null && !('error' in model)) this.showSample(this.shownIndex, true);
    });
    client.on('reportLoaded', ({ computedCount }) => { this.computedCount = computedCount; this.setQuery(this.query); this.renderStatus(); });
    client.on('select', ({ index }) => {
      if (this.isIdentityQuery()) this.list.select(index);
      else { this.query = { ...DEFAULT_QUERY }; this.syncControls(); void this.applyQuery().then(() => this.list.select(index)); }
    });
  }

  async start(): Promise<void> {
    // A host that speaks another protocol version gets no request: its answers would be misread.
    const pageMismatch = protocolMismatch(document.body.dataset.protocolVersion);
    if (pageMismatch) { this.refuse(pageMismatch); return; }
    this.detail.setStatus('Opening…', 'loading');
    try {
      this.init = await client.request('ready', {});
    } catch (e) {
      this.detail.showEmpty('');
      this.showBanner(`Could not open this file: ${message(e)}`, 'error');
      this.detail.setStatus(message(e), 'error');
      return;
    }
    const initMismatch = protocolMismatch(this.init.protocolVersion);
    if (initMismatch) { this.refuse(initMismatch); return; }
    const init = this.init;
    document.title = init.title;
    this.computedCount = init.computedCount;
    document.body.classList.toggle('mode-single', init.mode === 'single');
    this.detail.revealAvailable = init.mode === 'dataset';
    this.fillSplits();
    this.renderModel();
    this.indexError = init.indexError;
    if (init.indexError) this.showBanner(`Could not read the file: ${init.indexError}`, 'error');
    this.renderStatus();
    this.renderReadBanner();
    this.renderImagesBanner(init.missingImages);
    if (init.evaluation) this.renderSummary(init.evaluation);
    if (!this.restoring.colormap) this.detail.colormap = init.colormap;
    if (init.mode === 'single') {
      await this.applyQuery();
      this.list.select(0);
      return;
    }
    await this.applyQuery();
    if (this.restoring.layout === 'gallery') this.setLayout('gallery');
    if (this.restoring.scrollPosition) this.list.scrollPosition = this.restoring.scrollPosition;
    if (this.restoring.selectedIndex !== null && this.isIdentityQuery()) this.list.select(this.restoring.selectedIndex);
    else if (this.list.rowCount > 0) this.list.select(0);
    else this.detail.showEmpty(init.count === 0 && init.indexingComplete ? 'This file has no samples.' : 'No sample selected.');
    if (this.layoutMode === 'gallery') { this.gallery.select(Math.max(0, this.list.selectedPosition), false); this.gallery.focus(); } else this.list.focus();
  }

  /** Host and webview cannot talk: say so in place of the content. */
  private refuse(text: string): void {
    this.detail.showEmpty('');
    this.showBanner(text, 'error');
    this.detail.setStatus(text, 'error');
  }

  private isIdentityQuery(): boolean {
    const q = this.query;
    return q.sortKey === 'index' && q.sortDirection === 'asc' && !q.text.trim() && q.split === null && !q.missesOnly && !q.insight;
  }

  private fillSplits(): void {
    const splits = this.init?.splits ?? [];
    this.splitSelect.setOptions([{ value: '', label: 'all splits' }, ...splits.map((s) => ({ value: s, label: s }))]);
    this.splitSelect.value = this.query.split ?? '';
  }

  private syncControls(): void {
    this.search.value = this.query.text;
    this.splitSelect.value = this.query.split ?? '';
    this.sortSelect.value = `${this.query.sortKey}:${this.query.sortDirection}`;
    this.missesToggle.checked = this.query.missesOnly;
  }

  private setQuery(q: ViewQuery): void {
    this.query = q;
    this.renderEvaluateScope();
    this.syncControls();
    void this.applyQuery().then(() => { if (this.list.rowCount) this.list.select(0); });
    this.saveState();
  }

  private async applyQuery(): Promise<void> {
    this.viewAbort?.abort();
    const abort = new AbortController();
    this.viewAbort = abort;
    this.list.element.setAttribute('aria-busy', 'true');
    this.listEmpty.hidden = false;
    this.listEmpty.replaceChildren(ui.progressRing('Building list'), el('span', undefined, 'Building list…'));
    try {
      const { viewId, total, uncomputed, growing } = await client.request('setView', { query: this.query }, abort.signal);
      if (abort.signal.aborted) return;
      this.setFilterCount(total, growing === true);
      this.renderUncomputed(uncomputed);
      this.pendingResort = 0;
      this.resortButton.element.hidden = true;
      this.list.setSortIndicator(this.query.sortKey, this.query.sortDirection);
      this.list.setView(viewId, total);
      this.list.scrollPosition = 0;
      this.gallery.setView(viewId, total);
      this.updateListEmpty();
    } catch (e) {
      if (isCancel(e)) return;
      this.listEmpty.hidden = false;
      this.listEmpty.replaceChildren(el('span', 'error', `Could not build the list: ${message(e)}`));
    }
  }

  private renderUncomputed(uncomputed: number | undefined): void {
    this.uncomputedHint.hidden = !uncomputed;
    if (!uncomputed) return;
    const rows = `${uncomputed.toLocaleString('en-US')} row${uncomputed === 1 ? '' : 's'} of this list ${uncomputed === 1 ? 'is' : 'are'} not computed yet`;
    this.uncomputedText.textContent = this.query.missesOnly
      ? `${rows}: “misses only” cannot show them until they are explained.`
      : `${rows}: they follow the sorted rows, in dataset order.`;
    const m = this.init?.model;
    this.computeAllButton.setDisabled(!m || 'error' in m);
  }

  private updateListEmpty(): void {
    if (this.list.rowCount > 0) { this.listEmpty.hidden = true; return; }
    this.listEmpty.hidden = false;
    const init = this.init;
    let text: string;
    if (init && !init.indexingComplete && this.isIdentityQuery()) text = 'Reading the file…';
    else if (init && init.count === 0) text = 'This file has no samples.';
    else if (this.filterRunning) text = 'No match yet: searching as the file is read…';
    else if (this.query.missesOnly && this.computedCount === 0) text = 'No computed rows yet: misses appear once samples are explained (scroll, or Evaluate pointing game).';
    else text = 'No samples match the filter.';
    this.listEmpty.replaceChildren(el('span', undefined, text));
  }

  private onSelect(row: Row | undefined): void {
    if (!row) return;   // the page is still loading; the list calls again when it arrives
    if (this.selectTimer) clearTimeout(this.selectTimer);
    this.selectTimer = setTimeout(() => this.showSample(row.index, false), 120);
    this.saveState();
  }

  private async showSample(index: number, force: boolean): Promise<void> {
    if (!force && this.shownIndex === index) return;
    this.detailAbort?.abort();
    const abort = new AbortController();
    this.detailAbort = abort;
    this.shownIndex = index;
    this.saveState();
    this.detail.setStatus('Loading sample…', 'loading');
    try {
      const sample = await client.request('getSample', { index }, abort.signal);
      if (abort.signal.aborted) return;
      this.detail.setSample(sample);
      if (this.init && 'error' in this.init.model) { this.detail.setStatus(`No explanation: ${this.init.model.error}`, 'error'); return; }
      this.detail.setStatus('Explaining…', 'loading');
      const compared = this.explainComparison(index, undefined, abort, false);   // both models at once
      const explanation = await client.request('explainSample', { index }, abort.signal);
      if (abort.signal.aborted) return;
      this.detail.setExplanation(explanation);
      this.detail.setStatus(this.detail.comparing ? 'Explaining with the comparison model…' : '', this.detail.comparing ? 'loading' : 'ok');
      await compared;
      if (abort.signal.aborted) return;
      this.detail.setStatus('', 'ok');
      this.reportShown(explanation.index, explanation.phrase);
    } catch (e) {
      if (isCancel(e) || abort.signal.aborted) return;
      this.detail.setStatus(`Could not explain sample ${index}: ${message(e)}`, 'error');
    }
  }

  /** "Allow this folder": the host adds the shown image's folder to this viewer's roots, then the sample is shown again. */
  private async allowImageFolder(): Promise<void> {
    const index = this.shownIndex;
    if (index === null) return;
    try {
      const { folder } = await client.request('allowImageFolder', { index });
      this.setStatusNote(`Images from ${folder} are shown in this viewer until it closes.`);
      if (this.shownIndex === index) await this.showSample(index, true);
    } catch (e) {
      this.showBanner(`Could not allow the image folder: ${message(e)}`, 'error');
    }
  }

  private async explainPhrase(phrase: string): Promise<void> {
    if (this.shownIndex === null) return;
    this.detailAbort?.abort();
    const abort = new AbortController();
    this.detailAbort = abort;
    this.detail.setStatus(`Explaining “${phrase}”…`, 'loading');
    try {
      const compared = this.explainComparison(this.shownIndex, phrase, abort, false);
      const r = await client.request('explainPhrase', { index: this.shownIndex, phrase }, abort.signal);
      if (abort.signal.aborted) return;
      this.detail.setExplanation(r);
      await compared;
      if (abort.signal.aborted) return;
      this.detail.setStatus('', 'ok');
      this.reportShown(null, phrase);
    } catch (e) {
      if (isCancel(e) || abort.signal.aborted) return;
      this.detail.setStatus(`Could not explain “${phrase}”: ${message(e)}`, 'error');
    }
  }

  /**
   * The comparison model's map of the sample (or of a typed phrase on its image), drawn beside the current one.
   * Never rejects: a failure is shown on the comparison pane. `report`: tell the host once it is drawn.
   */
  private async explainComparison(index: number, phrase: string | undefined, abort: AbortController, report: boolean): Promise<void> {
    const c = this.init?.comparison;
    if (!c) { this.detail.setComparisonExplanation(null); return; }
    if ('error' in c.model) { this.detail.setComparisonExplanation(null, { text: `No comparison model: ${c.model.error}`, error: true }); return; }
    this.detail.setComparisonExplanation(null, { text: `Explaining with ${c.model.name}…`, error: false });
    let r: ExplanationPayload;
    try {
      r = await client.request('explainComparison', phrase === undefined ? { index } : { index, phrase }, abort.signal);
    } catch (e) {
      if (isCancel(e) || abort.signal.aborted) return;
      this.detail.setComparisonExplanation(null, { text: `The ${comparisonLabel(c)} model could not explain this: ${message(e)}`, error: true });
      return;
    }
    if (abort.signal.aborted || this.init?.comparison !== c) return;
    this.detail.setComparisonExplanation(r);
    if (report) this.reportShown(index === this.shownIndex && phrase === undefined ? index : null, phrase ?? r.phrase);
  }

  private reportShown(index: number | null, phrase: string): void {
    if (!this.init?.testHooks) return; // a test hook: the host refuses it outside the tests
    // After the frame that paints the panes, so "shown" means on screen: rAF callbacks run before that frame's
    // paint, a task queued from one runs after it.
    requestAnimationFrame(() => setTimeout(() => {
      void client.request('reportShown', {
        index, phrase, metrics: this.detail.displayedMetrics(), image: this.detail.imageState,
        comparison: this.detail.displayedComparison(),
      }).catch(() => undefined);
    }, 0));
  }

  private renderModel(): void {
    const m = this.init?.model;
    if (m && 'error' in m) this.showBanner(`No model for explanations: ${m.error}`, 'error');
    else { this.banner.hidden = true; }
    this.evaluateButton.setDisabled(!m || 'error' in m);
    const c = this.init?.comparison ?? null;
    this.detail.currentModelName = m && !('error' in m) ? m.name : '';
    this.detail.itmNote = m && !('error' in m) ? m.itmNote ?? '' : '';
    this.list.setItmNote(this.detail.itmNote);
    this.detail.setComparisonModel(c ? {
      label: comparisonLabel(c), name: 'error' in c.model ? c.dir : c.model.name, itmNote: 'error' in c.model ? undefined : c.model.itmNote,
    } : null);
    this.renderEvaluateScope();
  }

  /** The pointing game runs on the whole file: with a split or text filter on, the button says so. */
  private renderEvaluateScope(): void {
    const filtered = this.query.split !== null || this.query.text.trim() !== '';
    this.evaluateButton.element.title = filtered
      ? 'Evaluates every sample of the file (all splits), not only the filtered list; the table gives the accuracy per split'
      : 'Evaluates every sample of the file; the table gives the accuracy per split';
    this.evaluateButton.element.dataset.scope = filtered ? 'whole-file' : 'all';
    const c = this.init?.comparison;
    const both = c && !('error' in c.model) ? ' (both models)' : '';
    this.evaluateButton.setLabel(filtered ? `Evaluate pointing game on the whole file${both}` : `Evaluate pointing game${both}`);
  }

  private showBanner(text: string, kind: 'error' | 'info'): void {
    this.banner.hidden = false;
    this.banner.dataset.kind = kind;
    this.banner.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    this.banner.textContent = text;
  }

  /** Bad entries skipped and a file that stops early: said once, above the list; the entries are in Problems. */
  private renderReadBanner(): void {
    const init = this.init;
    const bad = init?.badEntries ?? 0;
    const stopped = init?.stoppedEarly;
    this.readBanner.hidden = !bad && !stopped;
    if (this.readBanner.hidden) return;
    // A file that stops early is an error the user must notice (alert); skipped entries are a status.
    this.readBanner.dataset.kind = stopped ? 'error' : 'warning';
    this.readBanner.setAttribute('role', stopped ? 'alert' : 'status');
    const parts: string[] = [];
    if (stopped) parts.push(`This file can be read only in part: ${stopped}.`);
    if (bad) parts.push(`${bad.toLocaleString('en-US')} bad entr${bad === 1 ? 'y was' : 'ies were'} skipped (each is listed in the Problems panel).`);
    this.readBanner.textContent = parts.join(' ');
  }

  /** Images not found: said until they are found (never a notification that goes away), with what to do. */
  private renderImagesBanner(missing: MissingImages | undefined): void {
    this.imagesBanner.hidden = !missing;
    if (!missing) return;
    const file = this.init?.title ?? 'this file';
    const what = missing.noneFound
      ? `The images of ${file} were not found (the first is expected at ${missing.image}).`
      : `An image of ${file} was not found: ${missing.image}.`;
    const todo = missing.canChoose ? ' Choose the folder they are in, or set amc.imageRoots.' : ' Set the folder they are in with amc.imageRoots.';
    this.imagesBannerText.textContent = what + todo;
    this.chooseFolderButton.element.hidden = !missing.canChoose;
    this.chooseFolderButton.setDisabled(false);
  }

  /** "Choose image folder…": the host asks, saves amc.imageRoots and reloads every viewer of the file. */
  private async chooseImageFolder(): Promise<void> {
    this.chooseFolderButton.setDisabled(true);
    try {
      const { folder } = await client.request('chooseImageFolder', {});
      if (folder) this.setStatusNote(`Images are read from ${folder}.`);
    } catch (e) {
      this.showBanner(`Could not set the image folder: ${message(e)}`, 'error');
    } finally {
      this.chooseFolderButton.setDisabled(false);
    }
  }

  /** The index pass failed before any sample (the banner says why): never "reading…" forever. */
  private indexError: string | undefined;
  private statusNote = '';
  private filterCount = '';
  private filterRunning = false;
  /** The filtered list's row count in the status line; `running`: still growing while the file is read. */
  private setFilterCount(total: number, running: boolean, scanned?: number): void {
    const rows = `${total.toLocaleString('en-US')} matching row${total === 1 ? '' : 's'}`;
    this.filterRunning = running && !this.isIdentityQuery();
    this.filterCount = this.isIdentityQuery() ? ''
      : running ? `${rows} so far (searching as the file is read${scanned ? `: ${scanned.toLocaleString('en-US')} rows` : ''}…)` : rows;
    this.renderStatus();
  }
  private setStatusNote(note: string): void { this.statusNote = note; this.renderStatus(); }

  private renderStatus(): void {
    const init = this.init;
    if (!init) return;
    const model = init.model as ModelInfo | { error: string };
    const parts = [
      `${init.count.toLocaleString('en-US')} samples${init.badEntries ? `, ${init.badEntries.toLocaleString('en-US')} bad entr${init.badEntries === 1 ? 'y' : 'ies'} skipped` : ''}`
        + `${init.stoppedEarly ? ' (the file stops early)' : this.indexError ? ' (the file could not be read)' : init.indexingComplete ? '' : ' (reading…)'}`,
      `${this.computedCount.toLocaleString('en-US')} computed`,
      'error' in model ? 'no model' : `model ${model.name} (${model.providerNote ?? model.provider})`,
      init.comparison ? `comparing with the ${comparisonLabel(init.comparison)} model ${'error' in init.comparison.model ? `${init.comparison.dir} (not loaded)` : init.comparison.model.name}` : '',
      init.problemCount ? `${init.problemCount} problem${init.problemCount === 1 ? '' : 's'} (see Problems)` : '',
      this.filterCount,
      this.statusNote,
    ];
    this.statusLine.textContent = parts.filter(Boolean).join(' · ');
  }

  private renderSummary(s: EvaluationSummary): void {
    this.summary.hidden = false;
    if (s.comparison) { this.renderComparisonSummary(s); return; }
    const heading = el('h3', undefined, s.finished ? 'Pointing-game accuracy' : s.cancelled ? 'Pointing-game accuracy (cancelled, partial)' : `Pointing-game accuracy (running: ${s.done} / ${s.total})`);
    const table = el('table', 'summary-table');
    const head = el('tr');
    for (const h of ['split', 'hits', 'queries', 'accuracy']) { const th = el('th', undefined, h); th.scope = 'col'; head.append(th); }
    table.append(head);
    for (const a of shownSplits(s.bySplit)) {
      const tr = el('tr');
      tr.dataset.split = a.split;
      tr.append(el('td', undefined, splitLabel(a.split)), el('td', 'num', String(a.hits)), el('td', 'num', String(a.total)),
        el('td', 'num', Number.isFinite(a.accuracy) ? `${(a.accuracy * 100).toFixed(2)}%` : '–'));
      table.append(tr);
    }
    this.summary.replaceChildren(heading, table);
    if (s.errors) {
      const reasons = s.notScored?.length ? `: ${s.notScored.map((g) => `${g.reason} (${g.count})`).join(', ')}` : '';
      this.summary.append(el('p', 'error', `${s.errors} sample(s) not scored${reasons} (see the ⚠ rows).`));
    }
  }

  /** Two models: per split, the comparison (previous) model's accuracy, the current one's, and the delta. */
  private renderComparisonSummary(s: EvaluationSummary): void {
    const c = s.comparison!;
    const label = c.role === 'previous' ? 'previous' : 'comparison';
    const state = s.finished ? '' : s.cancelled ? ' (cancelled, partial)' : ` (running: ${s.done} / ${s.total})`;
    const heading = el('h3', undefined, `Pointing-game accuracy: ${label} ${c.model.name} → current ${this.detail.currentModelName}${state}`);
    const table = el('table', 'summary-table');
    table.setAttribute('aria-label', `Pointing-game accuracy per split, ${label} and current model, and the difference in percentage points`);
    const head = el('tr');
    for (const h of ['split', 'queries', `${label} (${c.model.name})`, `current (${this.detail.currentModelName})`, 'Δ']) {
      const th = el('th', undefined, h); th.scope = 'col'; head.append(th);
    }
    table.append(head);
    const pct = (v: number, hits: number, total: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}% (${hits}/${total})` : '–');
    for (const d of shownSplits(c.deltas)) {
      const tr = el('tr');
      tr.dataset.split = d.split;
      const cells: Array<[string, string, string?]> = [
        ['split', splitLabel(d.split)], ['queries', String(Math.max(d.currentTotal, d.comparisonTotal))],
        ['comparison', pct(d.comparison, d.comparisonHits, d.comparisonTotal)], ['current', pct(d.current, d.currentHits, d.currentTotal)],
        ['delta', formatDeltaPts(d.deltaPts), !Number.isFinite(d.deltaPts) || Number(d.deltaPts.toFixed(1)) === 0 ? undefined : d.deltaPts > 0 ? 'better' : 'worse'],
      ];
      for (const [col, text, cls] of cells) {
        const td = el('td', col === 'split' ? undefined : `num${cls ? ` ${cls}` : ''}`, text);
        td.dataset.col = col;
        if (col === 'delta') td.dataset.value = String(d.deltaPts);
        tr.append(td);
      }
      table.append(tr);
    }
    this.summary.replaceChildren(heading, table);
    const errors = [s.errors ? `${s.errors} sample(s) could not be explained by the current model` : '', c.errors ? `${c.errors} by the ${label} model` : ''].filter(Boolean);
    if (errors.length) this.summary.append(el('p', 'error', `${errors.join('; ')}.`));
  }

  private onKey(e: KeyboardEvent): void {
    const path = e.composedPath();
    const typing = path.some((t) => t instanceof HTMLElement && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'VSCODE-TEXT-FIELD' || t.tagName === 'VSCODE-DROPDOWN'));
    if (typing) {
      if (e.key === 'Escape') { (document.activeElement as HTMLElement | null)?.blur(); this.focusCollection(); }
      if (e.key === 'Enter' && path.includes(this.search.element)) this.focusCollection();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '/') { e.preventDefault(); this.search.focus(); return; }
    const onButton = path.some((t) => t instanceof HTMLElement && (t.tagName === 'BUTTON' || t.tagName === 'VSCODE-BUTTON'));
    if (e.key === 'Enter' && onButton) return;
    if (this.detail.handleZoomKey(e)) { e.preventDefault(); return; }
    if (this.init?.mode !== 'dataset') return;
    if (this.layoutMode === 'gallery' && !this.galleryOpen) { if (this.gallery.handleKey(e)) e.preventDefault(); return; }
    if (this.layoutMode === 'gallery' && e.key === 'Escape') { e.preventDefault(); this.closeGalleryDetail(); return; }
    if (this.list.handleKey(e)) e.preventDefault();
  }

  private focusCollection(): void { if (this.layoutMode === 'gallery' && !this.galleryOpen) this.gallery.focus(); else this.list.focus(); }

  /** List | detail, or the gallery (a sample opened from it takes the gallery's place until Escape / ← Gallery). */
  private setLayout(mode: 'list' | 'gallery'): void {
    this.layoutMode = mode;
    this.galleryOpen = false;
    for (const [m, b] of this.layoutButtons) b.setAttribute('aria-checked', String(m === mode));
    document.body.classList.toggle('layout-gallery', mode === 'gallery');
    document.body.classList.remove('gallery-open');
    this.galleryBack.hidden = true;
    (mode === 'gallery' ? this.galleryPane : this.listPane).append(this.listEmpty);
    if (mode === 'gallery') { this.gallery.relayout(); this.gallery.select(Math.max(0, this.list.selectedPosition), false); this.gallery.focus(); } else {
      this.list.focus();
      const r = this.list.rowAt(this.list.selectedPosition);
      if (r) void this.showSample(r.index, false);
    }
    this.saveState();
  }

  private openFromGallery(position: number, index: number): void {
    this.galleryOpen = true;
    document.body.classList.add('gallery-open');
    this.galleryBack.hidden = false;
    this.list.select(position, false);
    void this.showSample(index, this.shownIndex !== index);
    this.detail.redrawAll();
  }

  private closeGalleryDetail(): void {
    if (!this.galleryOpen) return;
    this.galleryOpen = false;
    document.body.classList.remove('gallery-open');
    this.galleryBack.hidden = true;
    this.gallery.select(Math.max(0, this.list.selectedPosition), false);
    this.gallery.focus();
  }

  /** "Export table as CSV": the host pages through the current view and writes it; the webview never holds it whole. */
  private async exportCsv(): Promise<void> {
    this.csvButton.setDisabled(true);
    this.setStatusNote('Writing the table…');
    try {
      const r = await client.request('exportCsv', { viewId: this.list.viewIdentity });
      this.setStatusNote(r.path ? `Wrote ${r.rows.toLocaleString('en-US')} rows to ${r.path}` : '');
    } catch (e) {
      this.setStatusNote('');
      this.showBanner(`Could not export the table: ${message(e)}`, 'error');
    } finally {
      this.csvButton.setDisabled(false);
    }
  }

  private saveState(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      const state: PersistedViewState = {
        query: this.query, selectedIndex: this.shownIndex, scrollPosition: this.list.scrollPosition,
        opacity: this.detail.opacity, colormap: this.detail.colormap, altPhrase: this.detail.altPhraseText, layout: this.layoutMode,
      };
      vscode.setState(state);
    }, 200);
  }
}

/**
 * A file without splits evaluates to one '(none)' row and the 'all' row with the same numbers: show 'all' alone
 * (issue 14 item 4). Rows without a split beside named splits are labelled 'no split'.
 */
function shownSplits<T extends { split: string }>(rows: readonly T[]): T[] {
  const named = rows.filter((r) => r.split !== 'all' && r.split !== '(none)');
  return named.length === 0 ? rows.filter((r) => r.split === 'all') : [...rows];
}
const splitLabel = (split: string) => (split === '(none)' ? 'no split' : split);

function comparisonLabel(c: ComparisonInfo): string { return c.role === 'previous' ? 'previous' : 'comparison'; }

void new App().start();
