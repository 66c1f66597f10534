// The one message contract between the extension host and the annotation viewer webview.
// Both sides import this file: the host (src/editor/) answers requests, the webview (webview/) sends them.
// Shape (as vscode-hexeditor's shared/protocol.ts): every webview→host request carries an id and is answered
// by exactly one response with the same id, either `ok: true` + result or `ok: false` + error. The host also
// pushes events (no id, no answer). Pure TypeScript: no DOM, no vscode.
import type { BoxXYXY, DatasetFormat, HitRule } from './core/types';

export const PROTOCOL_VERSION = 2;

// ---------------------------------------------------------------------------------------------------------
// Data carried by messages

/** Metrics the list can sort/filter by. 'index' is the dataset order. */
export type SortKey = 'index' | 'score' | 'lMean' | 'lMax' | 'hit';
export type SortDirection = 'asc' | 'desc';
export const SORT_KEYS: readonly SortKey[] = ['index', 'score', 'lMean', 'lMax', 'hit'];

/** What the list shows: filters are applied to every row, metric sorting to computed rows (rest follow). */
export interface ViewQuery {
  sortKey: SortKey;
  sortDirection: SortDirection;
  /** Case-insensitive substring of the phrase; '' for none. */
  text: string;
  /** Only rows of this split; null for all. */
  split: string | null;
  /** Only computed rows whose pointing-game point missed every box. */
  missesOnly: boolean;
}

export const DEFAULT_QUERY: ViewQuery = { sortKey: 'index', sortDirection: 'asc', text: '', split: null, missesOnly: false };

/** Per-sample results of one explanation (spec §2 per-sample losses at batch size 1, §4.1 hit). */
export interface RowMetrics {
  score: number;   // raw ITM match logit
  lMean: number;
  lMax: number;
  hit: boolean;
}

/** One list row. `metrics` is present once that sample was explained with the current model. */
export interface Row {
  index: number;
  id: string;
  phrase: string;
  split?: string;
  metrics?: RowMetrics;
  /** Why this row could not be explained (missing image, ...). */
  error?: string;
}

export interface ModelInfo {
  name: string;
  provider: 'cuda' | 'cpu';
  providerNote?: string;
  grid: number;
  /** The model folder (absolute). */
  dir?: string;
}

/**
 * The second model a viewer compares with (issue 6): after a fine-tune export, the previous model ('previous');
 * or any folder the user picked with "AMC: Compare with another model…" ('chosen'). `model` is an error when
 * that folder could not be opened.
 */
export interface ComparisonInfo {
  role: 'previous' | 'chosen';
  dir: string;
  model: ModelInfo | { error: string };
}

/** Everything the detail view needs about a sample, except the explanation. */
export interface SampleDetail {
  index: number;
  id: string;
  phrase: string;
  caption: string;
  split?: string;
  boxes: BoxXYXY[];
  hitRule: HitRule;
  imagePath: string;
  /** Webview URI of the image (asWebviewUri); absent when the image lies outside the granted roots or is missing. */
  imageUri?: string;
  /** Why there is no image (file + reason): missing, not a file, outside the allowed folders. */
  imageProblem?: string;
  /**
   * Present when the image lies outside the folders the user granted this viewer (workspace folders, the
   * dataset's folder, amc.imageRoots): `folder` is the image's folder, which `allowImageFolder` would add.
   * `canAllow` is false where the host offers no "Allow this folder" (the Explain-phrase panel).
   */
  imageOutside?: { folder: string; canAllow: boolean };
  width?: number;
  height?: number;
  entry: string;
}

/** An explanation as numbers the webview can draw. Maps are row-major g×g (spec §1.3, raw, not normalised). */
export interface ExplanationPayload {
  index: number | null;       // sample index, or null for a free phrase on the sample's image
  phrase: string;
  score: number;
  itmProbability: number;
  grid: number;
  gradcam: number[];
  tokens: string[];
  tokenGradcam: number[][];
  width: number;
  height: number;
  point: { x: number; y: number };
  /** Present when GT boxes exist: hit and losses against the sample's boxes. */
  hit?: boolean;
  lMean?: number;
  lMax?: number;
  total?: number;
  maskEmpty?: boolean;
}

export interface SplitAccuracyPayload { split: string; hits: number; total: number; accuracy: number; }

/** One split of a two-model evaluation: accuracies in [0, 1] (NaN: no query), delta in percentage points. */
export interface SplitDelta {
  split: string;
  current: number;
  currentHits: number;
  currentTotal: number;
  /** The comparison (previous) model's accuracy. */
  comparison: number;
  comparisonHits: number;
  comparisonTotal: number;
  /** (current − comparison) × 100. */
  deltaPts: number;
}

/** The comparison model's side of an evaluation. */
export interface ComparisonEvaluation {
  role: 'previous' | 'chosen';
  model: ModelInfo;
  errors: number;
  bySplit: SplitAccuracyPayload[];
  deltas: SplitDelta[];
}

export interface EvaluationSummary {
  done: number;
  total: number;
  errors: number;
  bySplit: SplitAccuracyPayload[];
  finished: boolean;
  cancelled: boolean;
  /** Present when the viewer compares with a second model: its accuracy per split and the deltas. */
  comparison?: ComparisonEvaluation;
}

/**
 * One gallery thumbnail (issue 14 item 3): the sample's image and its raw mean GradCAM (g×g, as in
 * ExplanationPayload), with the row's metrics. `error`: why the sample could not be explained.
 */
export interface Thumbnail {
  index: number;
  phrase: string;
  /** Webview URI of the image; absent when it lies outside the granted roots (then `imageProblem` says so). */
  imageUri?: string;
  imageProblem?: string;
  boxes: BoxXYXY[];
  /** The map's image size and the map; absent when the sample has no explanation (`error`). */
  width?: number;
  height?: number;
  grid?: number;
  gradcam?: number[];
  point?: { x: number; y: number };
  metrics?: RowMetrics;
  error?: string;
}

/** The most thumbnails one getThumbnails request may ask for. */
export const MAX_THUMBNAILS = 16;

/** State the webview keeps with setState so a hidden tab comes back where it was. */
export interface PersistedViewState {
  query: ViewQuery;
  selectedIndex: number | null;
  scrollPosition: number;
  opacity: number;
  colormap: 'jet' | 'viridis';
  altPhrase: string;
  /** The sample list or the thumbnail gallery (absent in states saved before the gallery existed: list). */
  layout?: 'list' | 'gallery';
}

export interface InitResult {
  protocolVersion: number;
  /** 'dataset': list + detail (custom editor). 'single': one image and phrase (AMC: Explain phrase panel). */
  mode: 'dataset' | 'single';
  title: string;
  file: string;
  format: DatasetFormat | 'image';
  count: number;
  indexingComplete: boolean;
  splits: string[];
  /** The model used for explanations, or why none could be loaded. */
  model: ModelInfo | { error: string };
  computedCount: number;
  problemCount: number;
  colormap: 'jet' | 'viridis';
  evaluation?: EvaluationSummary;
  /** The comparison model, or null when the viewer compares with none. */
  comparison: ComparisonInfo | null;
}

// ---------------------------------------------------------------------------------------------------------
// Requests: method name → params and result

export interface RequestMap {
  /** First message after the webview script loads. */
  ready: { params: Record<string, never>; result: InitResult };
  /** Build (or rebuild) the ordered list for a query; later getRows calls name the returned viewId. */
  /**
   * `uncomputed` (metric sorts and misses only): rows the text/split filters admit that were not computed yet;
   * misses only cannot list them, a metric sort lists them after the sorted rows.
   */
  setView: { params: { query: ViewQuery }; result: { viewId: number; total: number; uncomputed?: number } };
  /** A page of the current view. Rows are never sent whole: limit ≤ MAX_PAGE. */
  getRows: { params: { viewId: number; start: number; limit: number }; result: { viewId: number; total: number; rows: Row[] } };
  getSample: { params: { index: number }; result: SampleDetail };
  /** Full explanation of a sample (cached per model on the host). */
  explainSample: { params: { index: number }; result: ExplanationPayload };
  /**
   * "Explain with another phrase" on a sample's image. The phrase is the user's, not the sample's: the result has no
   * losses and no hit (the sample's boxes belong to its own phrase); the webview scores it against a box the user gives.
   */
  explainPhrase: { params: { index: number; phrase: string }; result: ExplanationPayload };
  /**
   * The comparison model's explanation of a sample (or of `phrase` on its image), same shape and numbers as
   * explainSample / explainPhrase give for the current model. Error 'no-model' when there is no comparison model.
   */
  explainComparison: { params: { index: number; phrase?: string }; result: ExplanationPayload };
  /** Compute metrics lazily for rows now on screen; results come back as `rowsComputed` events. */
  computeRows: { params: { indices: number[] }; result: { queued: number } };
  /** Save the exported side-by-side PNG; result path is where it was written, null when the user cancelled. */
  savePng: { params: { suggestedName: string; base64: string }; result: { path: string | null } };
  /** Run "AMC: Evaluate pointing game" on this dataset. */
  evaluate: { params: Record<string, never>; result: { started: boolean } };
  /** Show the annotation entry of a sample in a text editor. */
  revealSource: { params: { index: number }; result: { shown: boolean } };
  /** The webview drew an explanation (for the host's log, timing and the extension-host tests). */
  reportShown: { params: ShownReport; result: Record<string, never> };
  /**
   * "Allow this folder" on a sample whose image is outside the allowed folders (SampleDetail.imageOutside): the
   * host adds that image's folder to this viewer's roots (not saved) and answers with it; the webview then asks
   * for the sample again. In VS Code the page may reload with the new roots and restore the selection instead.
   */
  allowImageFolder: { params: { index: number }; result: { folder: string } };
  /**
   * Gallery thumbnails of the samples now on screen (at most MAX_THUMBNAILS): each sample is explained (in one
   * batch, cached per model like computeRows) if it was not yet; newly computed rows also arrive as `rowsComputed`.
   */
  getThumbnails: { params: { indices: number[] }; result: { thumbnails: Thumbnail[] } };
  /**
   * "Export table as CSV": the host pages through the current view (viewId) and writes every row with every
   * metric computed so far (never the whole dataset through the webview). path null: the user cancelled.
   */
  exportCsv: { params: { viewId: number }; result: { path: string | null; rows: number } };
}

export interface ShownReport {
  index: number | null;
  phrase: string;
  /** The metric values as the webview displays them. */
  metrics: Record<string, string>;
  /** When comparing: the comparison model's values as displayed beside its map, and its name as labelled. */
  comparison?: { model: string; label: string; metrics: Record<string, string> };
  /** Whether the image pane has drawn the image (it loads independently of the explanation). */
  image: 'loaded' | 'loading' | 'failed' | 'none';
}

export type Method = keyof RequestMap;
export type ParamsOf<M extends Method> = RequestMap[M]['params'];
export type ResultOf<M extends Method> = RequestMap[M]['result'];

export const MAX_PAGE = 500;

// ---------------------------------------------------------------------------------------------------------
// Events: host → webview, no answer

export interface EventMap {
  /** Newly computed rows (lazy explanations or evaluation). */
  rowsComputed: { rows: Row[]; computedCount: number };
  /** Indexing of a large file progressed. */
  datasetProgress: { count: number; indexingComplete: boolean; splits: string[]; problemCount: number; error?: string };
  /** Evaluation progress and per-split accuracy. */
  evaluation: EvaluationSummary;
  /** The model changed (setting) or failed; cached metrics belong to the old model and are dropped. */
  modelChanged: { model: ModelInfo | { error: string }; computedCount: number; comparison: ComparisonInfo | null };
  /** The comparison model was set, changed or turned off (null); an evaluation of the old pair is dropped. */
  comparisonChanged: { comparison: ComparisonInfo | null };
  /**
   * The first text/split filter of a file indexes its phrases (once): how far it got, and how many rows from row
   * `from` (where this query joined the build; 0 for the query that started it) to `scanned` matched the query.
   */
  filterProgress: { scanned: number; total: number; matches: number; from: number };
  /** Host asks the webview to select and explain a sample (e.g. from a command). */
  select: { index: number };
}

export type EventName = keyof EventMap;

// ---------------------------------------------------------------------------------------------------------
// Envelopes

export type RequestMessage = { [M in Method]: { kind: 'request'; id: number; method: M; params: ParamsOf<M> } }[Method];
/** The webview asks the host to abandon a request (the user moved on); the host still answers it, with an error. */
export interface CancelMessage { kind: 'cancel'; id: number; }
export type WebviewToHost = RequestMessage | CancelMessage;

export interface ErrorPayload { message: string; code?: 'cancelled' | 'no-model' | 'bad-request' | 'failed'; }
export type ResponseMessage =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: ErrorPayload };
export type EventMessage = { [E in EventName]: { kind: 'event'; event: E; data: EventMap[E] } }[EventName];
export type HostToWebview = ResponseMessage | EventMessage;

export const METHOD_NAMES: readonly Method[] = [
  'ready', 'setView', 'getRows', 'getSample', 'explainSample', 'explainPhrase', 'explainComparison', 'computeRows', 'savePng',
  'evaluate', 'revealSource', 'reportShown', 'allowImageFolder', 'getThumbnails', 'exportCsv',
];
const METHODS: ReadonlySet<string> = new Set<string>(METHOD_NAMES);

/** Validates the envelope of a message received from the webview (its content is checked by each handler). */
export function parseWebviewMessage(raw: unknown): WebviewToHost | { invalid: string } {
  if (typeof raw !== 'object' || raw === null) return { invalid: 'message is not an object' };
  const m = raw as Record<string, unknown>;
  if (typeof m.id !== 'number' || !Number.isInteger(m.id)) return { invalid: 'message has no integer id' };
  if (m.kind === 'cancel') return { kind: 'cancel', id: m.id };
  if (m.kind !== 'request') return { invalid: `unknown message kind ${JSON.stringify(m.kind)}` };
  if (typeof m.method !== 'string' || !METHODS.has(m.method)) return { invalid: `unknown method ${JSON.stringify(m.method)}` };
  if (typeof m.params !== 'object' || m.params === null) return { invalid: `${m.method}: params must be an object` };
  return m as unknown as RequestMessage;
}

/** Thrown by host handlers to answer with a specific error code. */
export class RequestError extends Error {
  constructor(message: string, readonly code: ErrorPayload['code'] = 'failed') { super(message); }
}

// ---------------------------------------------------------------------------------------------------------
// Both ends of the request/response pairing, transport-agnostic.

export type RequestHandlers = { [M in Method]: (params: ParamsOf<M>, signal: AbortSignal) => Promise<ResultOf<M>> };

/**
 * Host side: dispatches requests to handlers and answers every one of them exactly once, with the result, or
 * with an error when the handler throws, the params are malformed, or the webview cancelled it.
 */
export class RequestServer {
  private readonly inFlight = new Map<number, AbortController>();
  constructor(private readonly handlers: RequestHandlers, private readonly post: (m: HostToWebview) => void) {}

  receive(raw: unknown): void {
    const msg = parseWebviewMessage(raw);
    if ('invalid' in msg) {
      const id = typeof (raw as { id?: unknown })?.id === 'number' ? (raw as { id: number }).id : -1;
      this.post({ kind: 'response', id, ok: false, error: { message: msg.invalid, code: 'bad-request' } });
      return;
    }
    if (msg.kind === 'cancel') { this.inFlight.get(msg.id)?.abort(); return; }
    const controller = new AbortController();
    this.inFlight.set(msg.id, controller);
    const handler = this.handlers[msg.method] as (p: unknown, s: AbortSignal) => Promise<unknown>;
    let answer: Promise<unknown>;
    try { answer = Promise.resolve(handler(msg.params, controller.signal)); } catch (e) { answer = Promise.reject(e); }
    answer.then(
      (result) => {
        if (controller.signal.aborted) this.post({ kind: 'response', id: msg.id, ok: false, error: { message: 'cancelled', code: 'cancelled' } });
        else this.post({ kind: 'response', id: msg.id, ok: true, result });
      },
      (err: unknown) => {
        const cancelled = controller.signal.aborted;
        const code = cancelled ? 'cancelled' : err instanceof RequestError ? err.code : 'failed';
        const message = cancelled ? 'cancelled' : err instanceof Error ? err.message : String(err);
        this.post({ kind: 'response', id: msg.id, ok: false, error: { message, code } });
      },
    ).finally(() => this.inFlight.delete(msg.id));
  }

  emit<E extends EventName>(event: E, data: EventMap[E]): void {
    this.post({ kind: 'event', event, data } as EventMessage);
  }

  /** Abort every handler still running (the panel closed). */
  dispose(): void {
    for (const c of this.inFlight.values()) c.abort();
    this.inFlight.clear();
  }
}

/** Error a client request rejects with; `code` says why. */
export class RemoteError extends Error {
  constructor(message: string, readonly code: ErrorPayload['code']) { super(message); this.name = 'RemoteError'; }
}

type EventListeners = { [E in EventName]?: Array<(data: EventMap[E]) => void> };

/** Webview side: typed requests that resolve with the host's result or reject with a RemoteError. */
export class RequestClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners: EventListeners = {};
  constructor(private readonly post: (m: WebviewToHost) => void) {}

  request<M extends Method>(method: M, params: ParamsOf<M>, signal?: AbortSignal): Promise<ResultOf<M>> {
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      if (signal?.aborted) { reject(new RemoteError('cancelled', 'cancelled')); return; }
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      signal?.addEventListener('abort', () => this.post({ kind: 'cancel', id }), { once: true });
      this.post({ kind: 'request', id, method, params } as RequestMessage);
    });
  }

  on<E extends EventName>(event: E, listener: (data: EventMap[E]) => void): void {
    ((this.listeners[event] ??= []) as Array<(data: EventMap[E]) => void>).push(listener);
  }

  /** Feed every message from the host here. Unknown messages are ignored (a newer host). */
  receive(raw: unknown): void {
    if (typeof raw !== 'object' || raw === null) return;
    const msg = raw as HostToWebview;
    if (msg.kind === 'response') {
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(new RemoteError(msg.error.message, msg.error.code));
    } else if (msg.kind === 'event') {
      for (const l of (this.listeners[msg.event] ?? []) as Array<(d: unknown) => void>) l(msg.data);
    }
  }

  get pendingCount(): number { return this.pending.size; }
}
