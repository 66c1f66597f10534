// The host half of one annotation viewer: answers the webview's requests (src/shared/protocol.ts) from a Dataset and an
// inference engine, computes explanations lazily for the rows on screen, caches metrics per model, and runs the
// dataset-wide pointing game. No vscode import: the custom editor wires it to a webview, the Chromium test host
// wires it to a page, both with the same code.
import type { Dataset } from '../core/datasets/dataset';
import { groupNotScored } from '../core/notScored';
import { accuracyBySplit } from '../core/math/pointing';
import type { Sample } from '../core/types';
import { open as openFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  MAX_PAGE, MAX_THUMBNAILS, PROTOCOL_VERSION, RequestError, RequestServer, SORT_KEYS,
  type ComparisonEvaluation, type ComparisonInfo, type EvaluationSummary, type ExplanationPayload, type HostToWebview,
  INSIGHT_BREAKDOWNS, type InitResult, type InsightSelection, type InsightsResult, type MissingImages, type ModelInfo, type RequestHandlers,
  type Row,
  type SampleDetail, type ShownReport, type Thumbnail, type ViewQuery,
} from '../shared/protocol';
import { splitDeltas } from '../shared/comparison';
import { folderToAllow } from './imageRoots';
import { toPayload, type EngineLike, type Explainer, type SampleExplanationLike } from './explainer';
import { buildView, GrowingFilterView, IdentityView, type ListView } from './listView';
import { MetricStore } from './metricStore';
import { errorMessage } from '../core/errors';
import type { Insights } from '../core/insights';
import {
  comparisonInsights, describeSelection, ImageSizes, selectionIndices, tableFromStore, viewerInsights, type ViewerTable,
} from './insightsHost';
import { loadReportInto, ReportRefused, type ReportLoadResult } from './reportLoad';

/** The second model a viewer compares with (issue 6); the host owns and caches its engine. */
export interface ComparisonSource {
  role: 'previous' | 'chosen';
  /** The model folder (absolute); a different dir than last time means a different comparison model. */
  dir: string;
  /** Loads (or returns) the comparison model; rejects with a message naming the folder. */
  explainer(): Promise<Explainer>;
}

export interface ViewerSessionOptions {
  mode: 'dataset' | 'single';
  title: string;
  dataset: Dataset;
  /** Loads (or returns the already loaded) model; rejects with a message the UI shows when there is none. */
  getExplainer(): Promise<Explainer>;
  /** The metrics cache for this dataset and model, shared by every viewer of the same file. */
  metricStoreFor(modelKey: string): MetricStore;
  /** The comparison model now, or null for none. Absent: this viewer never compares (Explain phrase panel). */
  getComparison?(): ComparisonSource | null;
  /**
   * Webview URI for an image path, or undefined when it is outside the roots the user granted this webview. Asked
   * before anything else: an image outside them is never stat'ed or read for display.
   */
  imageUri(path: string): string | undefined;
  /** "Allow this folder": adds the image's folder to this viewer's roots; returns the folder. Absent: not offered. */
  allowImageFolder?(path: string): string | Promise<string>;
  /** Why an image cannot be shown (missing, unreadable), or undefined when it is fine. */
  imageProblem(path: string): Promise<string | undefined>;
  savePng(suggestedName: string, png: Uint8Array): Promise<string | null>;
  /** "Export table as CSV": where to write it (a save dialog), null when the user cancelled. Absent: not offered. */
  chooseCsvPath?(suggestedName: string): Promise<string | null>;
  revealSource?(sample: Sample): Promise<boolean>;
  /** Starts the pointing-game evaluation through the host's command (progress notification). */
  startEvaluation?(): void;
  colormap: 'jet' | 'viridis';
  post(message: HostToWebview): void;
  /** Called after each explanation of a sample the host sent to the webview (the whole-file lint waits for the first). */
  onExplanationSent?(): void;
  /** Called once, when the webview first drew an explanation (ms since the session was created; test hooks only). */
  onFirstShown?(ms: number, report: ShownReport): void;
  /** Accept the test-only `reportShown` (InitResult.testHooks); see src/editor/testHooks.ts. Default off. */
  testHooks?: boolean;
  /**
   * The file's images were not found (the banner, issue 14 item 6), or undefined when they were. Absent: never asked
   * (the Explain-phrase panel). Call missingImagesChanged() when it changes.
   */
  missingImages?(): Omit<MissingImages, 'canChoose'> | undefined;
  /** "Choose image folder…": asks, saves and reloads the file; the folder, or null when cancelled. Absent: not offered. */
  chooseImageFolder?(): Promise<string | null>;
}

/** The comparison model's state in one session: its engine, metrics and explanations, like the current model's. */
class ComparisonSlot {
  explainer: Explainer | undefined;
  error: string | undefined;
  store: MetricStore | undefined;
  readonly explanations = new Map<string, ExplanationPayload>();
  readonly computing = new Map<number, Promise<unknown>>();
  constructor(readonly source: ComparisonSource) {}
}

const EXPLANATION_CACHE = 48;   // full explanations (maps) kept for the detail view
const COMPUTE_BATCH = 8;        // samples per explainBatch call for on-screen rows
const MAX_VISIBLE_REQUEST = 200;

export class ViewerSession {
  private readonly server: RequestServer;
  private explainer: Explainer | undefined;
  private explainerError: string | undefined;
  /** The model load started with the session, so it runs while the webview boots; the first request takes it. */
  private prefetchedExplainer: Promise<Explainer> | undefined;
  private store = new MetricStore();
  private view: ListView;
  private viewId = 0;
  private viewBuild: AbortController | undefined;
  private readonly explanations = new Map<string, ExplanationPayload>();
  private computeQueue: number[] = [];
  /** Rows being explained right now (lazily or by the evaluation), so no row is explained twice at once. */
  private readonly computing = new Map<number, Promise<unknown>>();
  private pumping = false;
  private disposed = false;
  private readonly disposeController = new AbortController();
  private evaluation: EvaluationSummary | undefined;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  /** When the session was created (the document opened) and what the webview last drew, with its delay. */
  readonly openedAt = Date.now();
  firstShownMs: number | undefined;
  lastShown: (ShownReport & { at: number }) | undefined;
  private comparisonSlot: ComparisonSlot | undefined;
  /** Image sizes from headers for the insights' GT-area breakdown (insightsHost.ts ImageSizes), kept per viewer. */
  private readonly imageSizes = new ImageSizes();
  /** The current model as last reported to the webview (undefined: not asked yet). */
  lastModel: ModelInfo | { error: string } | undefined;
  /** The comparison as last reported to the webview (undefined: not asked yet). */
  lastComparison: ComparisonInfo | null | undefined;
  /** The evaluation report loaded into this viewer, with what it held. */
  loadedReport: ReportLoadResult | undefined;
  /** The insights table of the current model's store at a store version (rebuilt when rows change). */
  private insightCache: { store: MetricStore; version: number; table: ViewerTable; insights: Insights; minCount: number } | undefined;
  /** What the list is filtered to by an Insights bar, in words, with its row count (tests and the status line). */
  lastInsightFilter: { label: string; indices: number[] } | undefined;

  constructor(private readonly opts: ViewerSessionOptions) {
    this.view = new IdentityView(opts.dataset);
    this.server = new RequestServer(this.handlers(), (m) => { if (!this.disposed) opts.post(m); });
    this.watchIndexing();
    // Every viewer needs the model before its first answer ('ready' carries the model info): start loading it now,
    // not when the booted webview asks (bench/open-gradcam: that serialised webview boot and engine start).
    try { this.prefetchedExplainer = opts.getExplainer(); } catch (err) { this.prefetchedExplainer = Promise.reject(err); }
    this.prefetchedExplainer.catch(() => undefined); // the first request reports a failure
  }

  /** Feed every message from the webview here. */
  receive(message: unknown): void { this.server.receive(message); }

  get dataset(): Dataset { return this.opts.dataset; }
  get metrics(): MetricStore { return this.store; }
  get lastEvaluation(): EvaluationSummary | undefined { return this.evaluation; }
  /** The missing-images banner's state as the webview gets it (undefined: the images were found). */
  get missingImages(): MissingImages | undefined {
    const missing = this.opts.missingImages?.();
    return missing && { ...missing, canChoose: this.opts.chooseImageFolder !== undefined };
  }

  /** The file's images were found missing or found again: the banner follows. */
  missingImagesChanged(): void {
    if (!this.disposed) this.server.emit('missingImages', { missingImages: this.missingImages ?? null });
  }

  dispose(): void {
    this.disposed = true;
    this.disposeController.abort();
    this.viewBuild?.abort();
    if (this.progressTimer) clearInterval(this.progressTimer);
    this.server.dispose();
  }

  /** The image of the sample the webview last asked for (what the viewer shows), for "AMC: Explain phrase". */
  async shownImage(): Promise<string | undefined> {
    if (this.shownSampleIndex === undefined) return undefined;
    try { return (await this.sample(this.shownSampleIndex)).image; } catch { return undefined; }
  }
  private shownSampleIndex: number | undefined;

  /** Ask the webview to show a sample (e.g. from a command). */
  select(index: number): void { this.server.emit('select', { index }); }

  /**
   * Drop the current model (setting changed); the next request loads the new one. The evaluation belonged to the
   * old model and is dropped; the comparison is looked up again (it may be the model that was current).
   */
  async modelChanged(): Promise<void> {
    this.explainer = undefined;
    this.explainerError = undefined;
    this.prefetchedExplainer = undefined;
    this.explanations.clear();
    this.computeQueue = [];
    this.evaluation = undefined;
    this.comparisonSlot = undefined;
    const model = await this.modelInfo();
    const comparison = await this.comparisonInfo();
    this.server.emit('modelChanged', { model, computedCount: this.store.computedCount, comparison });
  }

  /** The comparison model was set, changed or turned off: drop its explanations and the old pair's evaluation. */
  async comparisonChanged(): Promise<void> {
    this.comparisonSlot = undefined;
    if (this.evaluation?.comparison) this.evaluation = { ...this.evaluation, comparison: undefined };
    const comparison = await this.comparisonInfo();
    this.server.emit('comparisonChanged', { comparison });
    if (this.evaluation) this.server.emit('evaluation', this.evaluation);
  }

  /** The comparison slot for the host's comparison now (a new one when the folder changed), or undefined. */
  private comparisonNow(): ComparisonSlot | undefined {
    const source = this.opts.getComparison?.() ?? null;
    if (!source) { this.comparisonSlot = undefined; return undefined; }
    const slot = this.comparisonSlot;
    if (slot?.source.dir !== source.dir || slot.source.role !== source.role) this.comparisonSlot = new ComparisonSlot(source);
    return this.comparisonSlot;
  }

  /** The comparison model, loaded once per slot, with its caches in the shape the helpers below share. */
  private async loadComparison(): Promise<{ slot: ComparisonSlot; explainer: Explainer; caches: ModelCaches }> {
    const slot = this.comparisonNow();
    if (!slot) throw new RequestError('no comparison model is set (AMC: Compare with another model…)', 'no-model');
    const loaded = (explainer: Explainer, store: MetricStore) =>
      ({ slot, explainer, caches: { store, explanations: slot.explanations, computing: slot.computing } });
    if (slot.explainer && slot.store) return loaded(slot.explainer, slot.store);
    try {
      const e = await slot.source.explainer();
      slot.explainer = e;
      slot.error = undefined;
      slot.store = this.opts.metricStoreFor(e.modelKey);
      return loaded(e, slot.store);
    } catch (err) {
      slot.error = errorMessage(err);
      throw new RequestError(slot.error, 'no-model');
    }
  }

  private async comparisonInfo(): Promise<ComparisonInfo | null> {
    const slot = this.comparisonNow();
    let info: ComparisonInfo | null = null;
    if (slot) {
      const { role, dir } = slot.source;
      try { info = { role, dir, model: (await this.loadComparison()).explainer.info }; } catch { info = { role, dir, model: { error: slot.error ?? 'not loaded' } }; }
    }
    this.lastComparison = info;
    return info;
  }

  private async loadExplainer(): Promise<Explainer> {
    if (this.explainer) return this.explainer;
    const prefetched = this.prefetchedExplainer;
    this.prefetchedExplainer = undefined;
    try {
      const e = await (prefetched ?? this.opts.getExplainer());
      this.explainer = e;
      this.explainerError = undefined;
      this.store = this.opts.metricStoreFor(e.modelKey);
      return e;
    } catch (err) {
      this.explainerError = errorMessage(err);
      throw new RequestError(this.explainerError, 'no-model');
    }
  }

  private async modelInfo(): Promise<ModelInfo | { error: string }> {
    try { this.lastModel = (await this.loadExplainer()).info; } catch { this.lastModel = { error: this.explainerError ?? 'no model' }; }
    return this.lastModel;
  }

  private watchIndexing(): void {
    const ds = this.opts.dataset;
    const emit = (error?: string) => this.emitProgress(error);
    this.progressTimer = setInterval(() => emit(), 300);
    ds.complete.then(
      () => { this.indexingDone = true; if (this.progressTimer) clearInterval(this.progressTimer); emit(); },
      (err: unknown) => {
        if (this.progressTimer) clearInterval(this.progressTimer);
        const message = errorMessage(err);
        // A file readable in part (truncated, malformed after some entries) is shown up to there, saying where it stops.
        if (ds.count() > 0) {
          this.stoppedEarly = message;
          this.indexingDone = true;
          emit();
        } else {
          this.indexError = message;
          emit(message);
        }
      },
    );
  }

  private emitProgress(error = this.indexError): void {
    const ds = this.opts.dataset;
    this.extendView();
    this.server.emit('datasetProgress', {
      count: ds.count(), indexingComplete: error === undefined && this.indexingDone, splits: ds.splits(),
      problemCount: this.problemCount(), error, ...this.health(),
    });
  }

  /** A filter answered while the file is still being read grows with it: search the new rows, send the new total. */
  private extendView(): void {
    const view = this.view;
    if (!(view instanceof GrowingFilterView)) return;
    view.extend();
    const ds = this.opts.dataset;
    this.server.emit('filterProgress', {
      viewId: this.viewId, scanned: view.scanned, total: ds.count(), matches: view.total(), from: 0,
      complete: view.complete, ...(view.uncomputed !== undefined ? { uncomputed: view.uncomputed } : {}),
    });
  }

  /** The whole-file lint (the Problems panel) finished: the status line counts what the panel holds from now on. */
  setProblemCount(count: number): void {
    this.lintedProblems = count;
    if (!this.disposed) this.emitProgress();
  }

  private problemCount(): number { return this.lintedProblems ?? this.opts.dataset.problems().length; }
  private lintedProblems: number | undefined;
  private indexError: string | undefined;
  private indexingDone = false;
  private stoppedEarly: string | undefined;

  /** Skipped bad entries and where the file stops, for the banner and the sample count. */
  private health(): { badEntries?: number; stoppedEarly?: string } {
    const bad = this.opts.dataset.badEntries?.() ?? 0;
    return { ...(bad ? { badEntries: bad } : {}), ...(this.stoppedEarly ? { stoppedEarly: this.stoppedEarly } : {}) };
  }

  private async samplesAt(indices: readonly number[]): Promise<Map<number, Sample>> {
    const out = new Map<number, Sample>();
    const sorted = [...new Set(indices)].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length;) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
      for (const s of await this.opts.dataset.page(sorted[i], sorted[j] - sorted[i] + 1)) out.set(s.index, s);
      i = j + 1;
    }
    return out;
  }

  private async sample(index: number): Promise<Sample> {
    if (!Number.isInteger(index) || index < 0) throw new RequestError(`sample index must be a non-negative integer, got ${index}`, 'bad-request');
    const [s] = await this.opts.dataset.page(index, 1);
    if (!s) throw new RequestError(`${this.opts.dataset.file}: there is no sample ${index} (the dataset has ${this.opts.dataset.count()})`, 'bad-request');
    return s;
  }

  private row(s: Sample): Row {
    return {
      index: s.index, id: s.id, phrase: s.phrase, split: s.split, metrics: this.store.get(s.index), error: this.store.error(s.index),
      ...(this.store.isFromReport(s.index) ? { fromReport: true } : {}),
    };
  }

  /** The current model's caches, in the shape the helpers below share with the comparison model. */
  private caches(): ModelCaches { return { store: this.store, explanations: this.explanations, computing: this.computing }; }

  private handlers(): RequestHandlers {
    return {
      ready: async (): Promise<InitResult> => {
        const ds = this.opts.dataset;
        const model = await this.modelInfo();
        return {
          protocolVersion: PROTOCOL_VERSION, mode: this.opts.mode, title: this.opts.title, file: ds.file,
          format: this.opts.mode === 'single' ? 'image' : ds.format, count: ds.count(), indexingComplete: this.indexingDone,
          splits: ds.splits(), model, computedCount: this.store.computedCount, problemCount: this.problemCount(), ...this.health(),
          ...(this.indexError !== undefined ? { indexError: this.indexError } : {}),
          colormap: this.opts.colormap, evaluation: this.evaluation, comparison: await this.comparisonInfo(),
          ...(this.opts.testHooks ? { testHooks: true } : {}),
          ...(this.missingImages ? { missingImages: this.missingImages } : {}),
        };
      },

      setView: async ({ query }, signal) => {
        validateQuery(query);
        this.viewBuild?.abort();
        const build = new AbortController();
        this.viewBuild = build;
        signal.addEventListener('abort', () => build.abort(), { once: true });
        let only: Int32Array | undefined;
        if (query.insight) {
          const { table, insights } = await this.insightsNow(this.insightCache?.minCount ?? 5, build.signal);
          only = selectionIndices(table, query.insight, insights);
          this.lastInsightFilter = { label: describeSelection(query.insight, insights), indices: Array.from(only) };
        } else this.lastInsightFilter = undefined;
        let lastProgress = 0;
        const view = await buildView(this.opts.dataset, this.store, query, build.signal, (progress) => {
          if (Date.now() - lastProgress < 200 && progress.scanned < progress.total) return;
          lastProgress = Date.now();
          this.server.emit('filterProgress', progress);
        }, only);
        if (build.signal.aborted) throw new RequestError('cancelled', 'cancelled');
        if (view instanceof GrowingFilterView) view.extend();
        this.view = view;
        this.viewId++;
        return {
          viewId: this.viewId, total: view.total(), ...(view.uncomputed !== undefined ? { uncomputed: view.uncomputed } : {}),
          ...(view instanceof GrowingFilterView && !view.complete ? { growing: true } : {}),
        };
      },

      getRows: async ({ viewId, start, limit }) => {
        if (viewId !== this.viewId) throw new RequestError(`view ${viewId} was replaced by view ${this.viewId}`, 'cancelled');
        if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE) {
          throw new RequestError(`getRows: start must be ≥ 0 and 0 ≤ limit ≤ ${MAX_PAGE}, got ${start}, ${limit}`, 'bad-request');
        }
        const view = this.view;
        const end = Math.min(view.total(), start + limit);
        let samples: Sample[];
        if (view.contiguous) samples = start < end ? await this.opts.dataset.page(start, end - start) : [];
        else {
          const indices: number[] = [];
          for (let p = start; p < end; p++) indices.push(view.indexAt(p));
          const byIndex = await this.samplesAt(indices);
          samples = indices.map((i) => byIndex.get(i)).filter((s): s is Sample => s !== undefined);
        }
        return { viewId, total: view.total(), rows: samples.map((s) => this.row(s)) };
      },

      getSample: async ({ index }): Promise<SampleDetail> => {
        const s = await this.sample(index);
        this.shownSampleIndex = index;
        const detail: SampleDetail = {
          index: s.index, id: s.id, phrase: s.phrase, caption: s.caption, split: s.split, boxes: s.boxes, hitRule: s.hitRule,
          imagePath: s.image, width: s.width, height: s.height, entry: s.source.entry,
        };
        // The roots first: a file outside them is not even stat'ed (its existence is none of the webview's business).
        const uri = this.opts.imageUri(s.image);
        if (!uri) {
          const folder = folderToAllow(s.image);
          return {
            ...detail,
            imageProblem: `${s.image} is outside the allowed folders: not in a workspace folder, the dataset's folder or an image folder you chose`,
            imageOutside: { folder, canAllow: this.opts.allowImageFolder !== undefined },
          };
        }
        const problem = await this.opts.imageProblem(s.image);
        return problem ? { ...detail, imageProblem: problem } : { ...detail, imageUri: uri };
      },

      explainSample: async ({ index }, signal) => {
        const { payload, recorded } = await explainSampleIn(this.caches(), async () => (await this.loadExplainer()).engine,
          () => this.sample(index), index, signal);
        if (recorded) this.server.emit('rowsComputed', { rows: [this.row(recorded)], computedCount: this.store.computedCount });
        this.opts.onExplanationSent?.();
        return payload;
      },

      explainPhrase: async ({ index, phrase }, signal) => {
        if (typeof phrase !== 'string' || phrase.trim() === '') throw new RequestError('type a phrase to explain', 'bad-request');
        const s = await this.sample(index);
        const { engine } = await this.loadExplainer();
        return phrasePayload(engine, s, phrase, signal);
      },

      explainComparison: async ({ index, phrase }, signal) => {
        if (phrase !== undefined && (typeof phrase !== 'string' || phrase.trim() === '')) throw new RequestError('type a phrase to explain', 'bad-request');
        const { explainer, caches } = await this.loadComparison();
        if (phrase !== undefined) return phrasePayload(explainer.engine, await this.sample(index), phrase, signal);
        return (await explainSampleIn(caches, async () => explainer.engine, () => this.sample(index), index, signal)).payload;
      },

      computeRows: async ({ indices }) => {
        if (!Array.isArray(indices)) throw new RequestError('computeRows: indices must be an array', 'bad-request');
        await this.loadExplainer();
        // The newest screenful wins: rows scrolled away are dropped from the queue, not computed.
        this.computeQueue = indices.slice(0, MAX_VISIBLE_REQUEST)
          .filter((i) => Number.isInteger(i) && i >= 0 && !this.store.has(i) && !this.computing.has(i));
        void this.pump();
        return { queued: this.computeQueue.length };
      },

      savePng: async ({ suggestedName, base64 }) => {
        const bytes = Buffer.from(base64, 'base64');
        if (bytes.length < 8 || bytes.readUInt32BE(0) !== 0x89504e47) throw new RequestError('savePng: the data is not a PNG', 'bad-request');
        return { path: await this.opts.savePng(suggestedName.replace(/[\\/:*?"<>|]/g, '_'), bytes) };
      },

      evaluate: async () => {
        if (!this.opts.startEvaluation) return { started: false };
        this.opts.startEvaluation();
        return { started: true };
      },

      reportShown: async (report) => {
        if (!this.opts.testHooks) throw new RequestError('reportShown is a test hook (on under the extension tests or AMC_TEST_HOOKS=1)', 'bad-request');
        this.lastShown = { ...report, at: Date.now() };
        if (this.firstShownMs === undefined) {
          this.firstShownMs = Date.now() - this.openedAt;
          this.opts.onFirstShown?.(this.firstShownMs, report);
        }
        return {};
      },

      allowImageFolder: async ({ index }) => {
        if (!this.opts.allowImageFolder) throw new RequestError('this viewer cannot allow image folders', 'bad-request');
        const s = await this.sample(index);
        return { folder: await this.opts.allowImageFolder(s.image) };
      },

      getThumbnails: async ({ indices }, signal) => {
        if (!Array.isArray(indices) || indices.length > MAX_THUMBNAILS || !indices.every((i) => Number.isInteger(i) && i >= 0)) {
          throw new RequestError(`getThumbnails: indices must be at most ${MAX_THUMBNAILS} non-negative integers`, 'bad-request');
        }
        const { engine } = await this.loadExplainer();
        const samples = await this.samplesAt(indices);
        await Promise.all(indices.map((i) => this.computing.get(i)));
        // One batch for the samples on screen whose map is not cached (a metric alone does not draw a thumbnail).
        const todo = [...samples.values()].filter((s) => !this.explanations.has(`s${s.index}`) && this.store.error(s.index) === undefined);
        if (todo.length) {
          const caches = this.caches();
          await tracked(this.computing, todo.map((s) => s.index), async () => {
            const results = await engine.explainBatch(todo, signal);
            if (!signal.aborted) todo.forEach((s, k) => recordIn(caches, s, results[k]));
          });
          if (signal.aborted) throw new RequestError('cancelled', 'cancelled');
          this.server.emit('rowsComputed', { rows: todo.map((s) => this.row(s)), computedCount: this.store.computedCount });
        }
        const thumbnails: Thumbnail[] = [];
        for (const i of indices) {
          const s = samples.get(i);
          if (!s) continue;
          const e = this.explanations.get(`s${i}`);
          const uri = this.opts.imageUri(s.image);
          thumbnails.push({
            index: i, phrase: s.phrase, boxes: s.boxes, metrics: this.store.get(i), error: this.store.error(i),
            ...(uri ? { imageUri: uri } : { imageProblem: `${s.image} is outside the allowed folders` }),
            ...(e ? { width: e.width, height: e.height, grid: e.grid, gradcam: e.gradcam, point: e.point } : {}),
          });
        }
        return { thumbnails };
      },

      exportCsv: async ({ viewId }, signal) => {
        if (viewId !== this.viewId) throw new RequestError(`view ${viewId} was replaced by view ${this.viewId}: export again`, 'cancelled');
        if (!this.opts.chooseCsvPath) throw new RequestError('this viewer cannot export a table', 'bad-request');
        const base = path.basename(this.opts.dataset.file).replace(/\.[^.]*$/, '');
        const target = await this.opts.chooseCsvPath(`${base}-metrics.csv`);
        if (!target) return { path: null, rows: 0 };
        const rows = await this.writeCsv(target, this.view, signal);
        return { path: target, rows };
      },

      getInsights: async ({ minCount }): Promise<InsightsResult> => {
        const min = minCount === undefined ? 5 : minCount;
        if (!Number.isInteger(min) || min < 1) throw new RequestError(`getInsights: minCount must be a positive integer, got ${minCount}`, 'bad-request');
        await this.loadExplainer().catch(() => undefined);   // the store belongs to the model: load it first
        const { table, insights } = await this.insightsNow(min);
        let fromReport = 0;
        for (const i of table.indices) if (this.store.isFromReport(i)) fromReport++;
        const result: InsightsResult = {
          rows: table.table.size, fromReport, current: table.table.size ? insights : null, noImageSize: table.noImageSize,
          ...(this.loadedReport ? { report: this.loadedReport.file } : {}),
        };
        const slot = this.comparisonNow();
        if (slot?.store && slot.explainer && slot.store.computedCount > 0) {
          const other = await tableFromStore(this.opts.dataset, slot.store, undefined, this.imageSizes);
          result.comparison = { model: slot.explainer.info.name, insights: comparisonInsights(other, insights) };
        }
        return result;
      },

      chooseImageFolder: async () => {
        if (!this.opts.chooseImageFolder) throw new RequestError('this viewer cannot choose an image folder', 'bad-request');
        return { folder: await this.opts.chooseImageFolder() };
      },

      revealSource: async ({ index }) => {
        const s = await this.sample(index);
        return { shown: this.opts.revealSource ? await this.opts.revealSource(s) : false };
      },
    };
  }

  /**
   * Writes `view` (the filtered, sorted list) as CSV, paging through the dataset: one line per row with every
   * metric computed so far with the current model (and the comparison model's, when comparing). Empty cells: not
   * computed yet. Returns the number of rows written.
   */
  private async writeCsv(target: string, view: ListView, signal: AbortSignal): Promise<number> {
    const comparison = this.comparisonSlot?.store ? this.comparisonSlot : undefined;
    const model = this.explainer?.info.name ?? '';
    // A model whose card says its ITM head is untrained gets empty ITM cells, as in the list (its logit means nothing).
    const itmShown = !this.explainer?.info.itmNote;
    const comparisonItmShown = !comparison?.explainer?.info.itmNote;
    const header = ['position', 'index', 'id', 'split', 'phrase', 'image', 'entry', 'boxes', 'model', 'itm_score', 'l_mean', 'l_max', 'hit', 'error'];
    if (comparison) header.push('comparison_model', 'comparison_itm_score', 'comparison_l_mean', 'comparison_l_max', 'comparison_hit', 'comparison_error');
    const file = await openFile(target, 'w');
    const page = 2000;
    let written = 0;
    try {
      await file.write(`${header.join(',')}\n`);
      const total = view.total();
      for (let start = 0; start < total; start += page) {
        if (signal.aborted || this.disposed) throw new RequestError('cancelled', 'cancelled');
        const end = Math.min(total, start + page);
        let samples: Sample[];
        if (view.contiguous) samples = await this.opts.dataset.page(start, end - start);
        else {
          const indices: number[] = [];
          for (let p = start; p < end; p++) indices.push(view.indexAt(p));
          const byIndex = await this.samplesAt(indices);
          samples = indices.map((i) => byIndex.get(i)).filter((x): x is Sample => x !== undefined);
        }
        const lines = samples.map((s, k) => {
          const m = this.store.get(s.index);
          const cells: Array<string | number | undefined> = [start + k, s.index, s.id, s.split, s.phrase, s.image, s.source.entry,
            JSON.stringify(s.boxes), m ? model : '', itmShown ? m?.score : undefined, m?.lMean, m?.lMax, m ? (m.hit ? 1 : 0) : undefined, this.store.error(s.index)];
          if (comparison?.store) {
            const c = comparison.store.get(s.index);
            cells.push(c ? comparison.explainer?.info.name ?? comparison.source.dir : '', comparisonItmShown ? c?.score : undefined, c?.lMean, c?.lMax, c ? (c.hit ? 1 : 0) : undefined, comparison.store.error(s.index));
          }
          return cells.map(csvCell).join(',');
        });
        await file.write(lines.length ? `${lines.join('\n')}\n` : '');
        written += samples.length;
      }
    } finally {
      await file.close();
    }
    return written;
  }

  /** The current store's insights table and breakdowns, rebuilt only when the store changed since last time. */
  private async insightsNow(minCount: number, signal?: AbortSignal): Promise<{ table: ViewerTable; insights: Insights }> {
    const c = this.insightCache;
    if (c && c.store === this.store && c.version === this.store.version && c.minCount === minCount) return c;
    const store = this.store, version = store.version;
    const table = await tableFromStore(this.opts.dataset, store, signal, this.imageSizes);
    const insights = viewerInsights(table, minCount);
    this.insightCache = { store, version, table, insights, minCount };
    return this.insightCache;
  }

  /**
   * Loads an evaluation report into this viewer (README "Evaluation reports"): refused with ReportRefused (the
   * reason) when it is for another model or dataset file; otherwise its rows get their results without
   * recomputation and the webview refreshes its list and insights.
   */
  async loadReport(file: string): Promise<ReportLoadResult> {
    const explainer = await this.loadExplainer().catch((err: unknown) => { throw new ReportRefused(`${file}: no model to match the report with: ${errorMessage(err)}`); });
    if (!explainer.modelSha256) throw new ReportRefused(`${file}: the open model ${explainer.info.name} records no grounding.onnx sha256 to match the report with`);
    // Rows arrive while the report is read: the list redraws with the first of them (partial), and again at the end.
    const result = await loadReportInto(file, this.opts.dataset, this.store, { name: explainer.info.name, sha256: explainer.modelSha256 }, {
      onProgress: (loaded) =>
        this.server.emit('reportLoaded', { file, rows: loaded, computedCount: this.store.computedCount, partial: true }),
    });
    this.loadedReport = result;
    this.server.emit('reportLoaded', { file, rows: result.rows, computedCount: this.store.computedCount });
    return result;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.computeQueue.length && !this.disposed) {
        const batch = this.computeQueue.splice(0, COMPUTE_BATCH).filter((i) => !this.store.has(i) && !this.computing.has(i));
        if (!batch.length) continue;
        const { engine } = await this.loadExplainer();
        await tracked(this.computing, batch, async () => {
          const samples = [...(await this.samplesAt(batch)).values()];
          const results = await engine.explainBatch(samples, this.disposeController.signal);
          const caches = this.caches();
          samples.forEach((s, k) => recordIn(caches, s, results[k]));
          this.server.emit('rowsComputed', { rows: samples.map((s) => this.row(s)), computedCount: this.store.computedCount });
        });
      }
    } catch (err) {
      if (!this.disposed) this.server.emit('modelChanged', { model: { error: errorMessage(err) }, computedCount: this.store.computedCount, comparison: this.lastComparison ?? null });
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The pointing game over the whole dataset (docs/reference.md §4.1): every sample not yet computed with this model is
   * explained in batches; accuracy per split over all of them. `progress` gets the running summary.
   */
  async evaluate(progress: (summary: EvaluationSummary) => void, signal: AbortSignal, batchSize = 16): Promise<EvaluationSummary> {
    const { engine } = await this.loadExplainer();
    // With a comparison model, both models are evaluated on every page (its metrics cache is per model too, so a
    // previous model that was evaluated before it was replaced costs nothing now). A comparison model that cannot
    // be opened is left out: the webview already shows why.
    let comparison: Awaited<ReturnType<ViewerSession['loadComparison']>> | undefined;
    if (this.comparisonNow()) { try { comparison = await this.loadComparison(); } catch { comparison = undefined; } }
    const ds = this.opts.dataset;
    await ds.complete;
    const total = ds.count();
    let done = 0, errors = 0, comparisonErrors = 0;
    const reasons: string[] = [];
    const summary = (finished: boolean): EvaluationSummary => {
      const bySplit = accuracyBySplit(this.store.hitRows()).map((a) => ({ ...a }));
      let comp: ComparisonEvaluation | undefined;
      if (comparison) {
        const other = accuracyBySplit(comparison.caches.store.hitRows()).map((a) => ({ ...a }));
        comp = {
          role: comparison.slot.source.role, model: comparison.explainer.info, errors: comparisonErrors,
          bySplit: other, deltas: splitDeltas(bySplit, other),
        };
      }
      return {
        done, total, errors, notScored: groupNotScored(reasons), finished, cancelled: signal.aborted, bySplit,
        ...(comp ? { comparison: comp } : {}),
      };
    };
    let lastEmit = 0;
    for (let start = 0; start < total && !signal.aborted && !this.disposed; start += batchSize) {
      const page = await ds.page(start, batchSize);
      const todo = await explainPageIn(this.caches(), engine, page, signal);
      if (signal.aborted) break;
      if (todo.length) this.server.emit('rowsComputed', { rows: todo.map((s) => this.row(s)), computedCount: this.store.computedCount });
      if (comparison) {
        const { caches, explainer } = comparison;
        await explainPageIn(caches, explainer.engine, page, signal);
        if (signal.aborted) break;
        comparisonErrors += page.filter((s) => caches.store.error(s.index) !== undefined).length;
      }
      done += page.length;
      for (const s of page) {
        if (this.store.error(s.index) === undefined) continue;
        errors++;
        reasons.push(this.store.errorReason(s.index) ?? 'cannot be explained');
      }
      if (Date.now() - lastEmit > 500 || done >= total) {
        lastEmit = Date.now();
        const running = summary(false);
        this.evaluation = running;
        this.server.emit('evaluation', running);
        progress(running);
      }
    }
    const final = summary(!signal.aborted);
    this.evaluation = final;
    this.server.emit('evaluation', final);
    return final;
  }
}

/** One model's caches in a session: its metrics, its full explanations (LRU), the samples being explained now. */
interface ModelCaches {
  store: MetricStore;
  explanations: Map<string, ExplanationPayload>;
  computing: Map<number, Promise<unknown>>;
}

function recordIn(c: ModelCaches, sample: Sample, r: SampleExplanationLike | { error: string; reason?: string }): void {
  if ('error' in r) { c.store.setError(sample.index, r.error, r.reason); return; }
  c.store.set(sample.index, { score: r.score, lMean: r.lMean, lMax: r.lMax, hit: r.hit }, sample.split, r.point);
  rememberIn(c.explanations, `s${sample.index}`, toPayload(sample.index, sample.phrase, r, r));
}

/**
 * A sample's full explanation under one model: from the cache (after any batch explaining it settles), else from
 * the engine, recording its metrics. `recorded` is the sample when new metrics were recorded.
 */
async function explainSampleIn(
  c: ModelCaches, engine: () => Promise<EngineLike>, sample: () => Promise<Sample>, index: number, signal: AbortSignal,
): Promise<{ payload: ExplanationPayload; recorded?: Sample }> {
  await c.computing.get(index);   // already in a lazy or evaluation batch: its result lands in the cache
  const cached = c.explanations.get(`s${index}`);
  if (cached) return { payload: cached };
  const s = await sample();
  const e = await engine();
  if (s.boxes.length === 0) {
    const payload = toPayload(s.index, s.phrase, await e.explain(s.image, s.phrase, signal));
    rememberIn(c.explanations, `s${index}`, payload);
    return { payload };
  }
  let r: SampleExplanationLike;
  try { r = await e.explainSample(s, signal); } catch (err) {
    // A report's results stay when the image cannot be explained here (not on this machine): only the map is missing.
    if (!signal.aborted && !c.store.isFromReport(index)) c.store.setError(index, errorMessage(err), (err as { reason?: string })?.reason);
    throw err;
  }
  recordIn(c, s, r);
  return { payload: c.explanations.get(`s${index}`)!, recorded: s };
}

/**
 * Explains, in one batch, the samples of a page this model has no metrics for, and records them. Samples another
 * batch is explaining right now are awaited, not explained again. Returns the samples explained here.
 */
async function explainPageIn(c: ModelCaches, engine: EngineLike, page: readonly Sample[], signal: AbortSignal): Promise<Sample[]> {
  await Promise.all(page.map((s) => c.computing.get(s.index)));
  const todo = page.filter((s) => !c.store.has(s.index));
  if (!todo.length) return todo;
  let results: (SampleExplanationLike | { error: string; reason?: string })[] = [];
  await tracked(c.computing, todo.map((s) => s.index), async () => { results = await engine.explainBatch(todo, signal); });
  if (!signal.aborted) todo.forEach((s, k) => recordIn(c, s, results[k]));
  return todo;
}

/** Runs `work`, marking `indices` as being computed in `computing` until it settles. */
async function tracked(computing: Map<number, Promise<unknown>>, indices: readonly number[], work: () => Promise<void>): Promise<void> {
  const running = work();
  const settled = running.catch(() => undefined);
  indices.forEach((i) => computing.set(i, settled));
  try { await running; } finally { indices.forEach((i) => { if (computing.get(i) === settled) computing.delete(i); }); }
}

function rememberIn(cache: Map<string, ExplanationPayload>, key: string, payload: ExplanationPayload): void {
  cache.delete(key);
  cache.set(key, payload);
  while (cache.size > EXPLANATION_CACHE) cache.delete(cache.keys().next().value as string);
}

/**
 * A phrase the user typed on a sample's image. It is not the sample's phrase, so the sample's boxes say nothing
 * about it: no losses, no hit (issue 14 item 5). The webview scores it against a box the user gives.
 */
async function phrasePayload(engine: EngineLike, s: Sample, phrase: string, signal: AbortSignal): Promise<ExplanationPayload> {
  return toPayload(null, phrase, await engine.explain(s.image, phrase, signal));
}

/** One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break; numbers at full float32 precision. */
function csvCell(v: string | number | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  // A leading =, +, - or @ would be run as a formula by spreadsheet programs: keep phrases text.
  const text = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function validateQuery(q: ViewQuery): void {
  if (typeof q !== 'object' || q === null) throw new RequestError('setView: query must be an object', 'bad-request');
  if (!SORT_KEYS.includes(q.sortKey)) throw new RequestError(`setView: unknown sort key ${JSON.stringify(q.sortKey)}`, 'bad-request');
  if (q.sortDirection !== 'asc' && q.sortDirection !== 'desc') throw new RequestError('setView: sortDirection must be asc or desc', 'bad-request');
  if (typeof q.text !== 'string' || (q.split !== null && typeof q.split !== 'string') || typeof q.missesOnly !== 'boolean') {
    throw new RequestError('setView: text must be a string, split a string or null, missesOnly a boolean', 'bad-request');
  }
  if (q.insight !== undefined && q.insight !== null) validateSelection(q.insight);
}

function validateSelection(sel: InsightSelection): void {
  if (typeof sel !== 'object' || sel === null || !INSIGHT_BREAKDOWNS.includes(sel.breakdown) || typeof sel.key !== 'string' ||
    !['all', 'hits', 'misses'].includes(sel.outcome)) {
    throw new RequestError(`setView: insight must be {breakdown: ${INSIGHT_BREAKDOWNS.join('|')}, key: string, outcome: all|hits|misses}, got ${JSON.stringify(sel)}`, 'bad-request');
  }
}
