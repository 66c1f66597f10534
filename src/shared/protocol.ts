// The one message contract between the extension host and the annotation viewer webview.
// Both sides import this file: the host (src/editor/) answers requests, the webview (webview/) sends them.
// Shape (as vscode-hexeditor's shared/protocol.ts): every webview→host request carries an id and is answered
// by exactly one response with the same id, either `ok: true` + result or `ok: false` + error. The host also
// pushes events (no id, no answer). The mechanism (ids, result-or-error, cancel) is ./rpc.ts, shared with the
// inference worker's channel; this file is the webview channel's method and event maps. Pure TypeScript: no DOM,
// no vscode.
import type { Insights } from '../core/insights';
import type { BoxXYXY, DatasetFormat, HitRule } from '../core/types';
import {
  parseRequest, RpcClient, RpcServer,
  type CancelMessage, type ErrorPayload, type EventEnvelope, type Handlers, type RequestEnvelope, type ResponseMessage,
} from './rpc';

/**
 * Version of this contract. The host writes it into the page (`<body data-protocol-version>`, renderWebviewHtml)
 * and into InitResult; the webview compares both with the version it was built with and refuses to run on a
 * mismatch (a stale out/webview.js next to a newer host, or the reverse). Raise it on any incompatible change.
 */
export const PROTOCOL_VERSION = 6;

/** What the webview says when the host speaks another protocol version, or undefined when they agree. */
export function protocolMismatch(hostVersion: unknown, webviewVersion: number = PROTOCOL_VERSION): string | undefined {
  const host = typeof hostVersion === 'string' && /^\d+$/.test(hostVersion) ? Number(hostVersion) : hostVersion;
  if (host === webviewVersion) return undefined;
  const shown = typeof host === 'number' && Number.isInteger(host) ? String(host) : '?';
  return `host and webview disagree: protocol v${shown} vs v${webviewVersion} — reload the window`;
}

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
  /**
   * Only the rows behind one bar or bin of the Insights panel: the host computes that set of sample indices from
   * its insights table (the webview never holds the dataset). Absent or null: no such filter.
   */
  insight?: InsightSelection | null;
}

/** The breakdowns of the Insights panel (src/core/insights.ts), by the name a selection gives them. */
export type InsightBreakdown = 'word' | 'length' | 'area' | 'boxes' | 'split' | 'missTarget' | 'lMean' | 'lMax';
export const INSIGHT_BREAKDOWNS: readonly InsightBreakdown[] = ['word', 'length', 'area', 'boxes', 'split', 'missTarget', 'lMean', 'lMax'];

/**
 * One bar or bin: the bucket `key` of a breakdown (a word, "3", "1–5%", a split, a MissLocation, or a histogram
 * bin's index as a string) and which of its scored rows ('all' = hits and misses, the bar's n).
 */
export interface InsightSelection {
  breakdown: InsightBreakdown;
  key: string;
  outcome: 'all' | 'hits' | 'misses';
}

/** The Insights panel's numbers: aggregates only (NaN travels as null through postMessage). */
export interface InsightsResult {
  /** Rows with results (scored or not) the breakdowns are over; 0: nothing evaluated or loaded yet. */
  rows: number;
  /** Rows whose results came from an evaluation report (not computed in this editor). */
  fromReport: number;
  /** The report loaded into this viewer, when one was. */
  report?: string;
  current: Insights | null;
  /** Rows without an image size (not in the dataset, no readable image header): GT area "size unknown". */
  noImageSize?: number;
  /** With a comparison model that has results: its breakdowns over its rows, and its name. */
  comparison?: { model: string; insights: Insights };
}

export const DEFAULT_QUERY: ViewQuery = { sortKey: 'index', sortDirection: 'asc', text: '', split: null, missesOnly: false };

/** Per-sample results of one explanation (docs/reference.md §2 per-sample losses at batch size 1, §4.1 hit). */
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
  /** The metrics (or error) were read from an evaluation report, not computed here. */
  fromReport?: boolean;
}

export interface ModelInfo {
  name: string;
  provider: 'cuda' | 'cpu';
  /** Plain words when CUDA was wanted but the model runs on the CPU ("CPU — CUDA provider not installed"). */
  providerNote?: string;
  grid: number;
  /** The model folder (absolute). */
  dir?: string;
  /** Set when the ITM score/probability mean nothing for this model (card itm_trained not true): shown instead. */
  itmNote?: string;
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

/**
 * The images of the file were not found where its paths point (issue 14 item 6): the viewer shows a banner with
 * "Choose image folder…" until the images are found (InitResult.missingImages, event `missingImages`).
 */
export interface MissingImages {
  /** An image that was not found: the first sample's, or the one a sample pane showed as missing. */
  image: string;
  /** True when none of the first samples' images exists (the whole folder is elsewhere), false for one image. */
  noneFound: boolean;
  /** Whether the host offers "Choose image folder…" (request chooseImageFolder); else the setting amc.imageRoots only. */
  canChoose: boolean;
}

/** An explanation as numbers the webview can draw. Maps are row-major g×g (docs/reference.md §1.3, raw, not normalised). */
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
  /** The `errors` grouped by short reason ("image not found"), most frequent first. */
  notScored?: { reason: string; count: number }[];
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
  /** Entries the reader skipped as unreadable (listed in Problems); not in `count`. */
  badEntries?: number;
  /** Where the file stops being readable (truncated or malformed), with how many samples before it are shown. */
  stoppedEarly?: string;
  /** Why the file could not be read at all (no sample before the failure); as datasetProgress.error. */
  indexError?: string;
  colormap: 'jet' | 'viridis';
  evaluation?: EvaluationSummary;
  /** The comparison model, or null when the viewer compares with none. */
  comparison: ComparisonInfo | null;
  /**
   * True only when the extension runs under its tests (extension mode Test or AMC_TEST_HOOKS=1): the webview then
   * reports what it drew (`reportShown`). Absent in normal use, where the host refuses `reportShown`.
   */
  testHooks?: boolean;
  /** The file's images were not found: the banner with "Choose image folder…" (absent: they were found). */
  missingImages?: MissingImages;
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
  /** `growing`: answered from the part of the file read so far; filterProgress events with this viewId follow. */
  setView: { params: { query: ViewQuery }; result: { viewId: number; total: number; uncomputed?: number; growing?: boolean } };
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
  /**
   * Test hook, sent only when InitResult.testHooks is true (refused otherwise): the webview drew an explanation
   * and reads back what it shows, for the extension-host tests (`amc.viewerState`) and the first-shown timing.
   */
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
  /** The Insights panel's breakdowns over the rows with results (words appearing in ≥ minCount phrases; default 5). */
  getInsights: { params: { minCount?: number }; result: InsightsResult };
  /**
   * "Choose image folder…" on the missing-images banner: the host asks for a folder, saves it (amc.imageRoots) and
   * reloads the file in every viewer of it (their pages reload with the new roots). folder null: the user cancelled.
   */
  chooseImageFolder: { params: Record<string, never>; result: { folder: string | null } };
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
  datasetProgress: {
    count: number; indexingComplete: boolean; splits: string[]; problemCount: number; error?: string;
    /** As in InitResult: skipped bad entries, and where a file readable only in part stops (then indexingComplete is true). */
    badEntries?: number; stoppedEarly?: string;
  };
  /** Evaluation progress and per-split accuracy. */
  evaluation: EvaluationSummary;
  /** The model changed (setting) or failed; cached metrics belong to the old model and are dropped. */
  modelChanged: { model: ModelInfo | { error: string }; computedCount: number; comparison: ComparisonInfo | null };
  /** The comparison model was set, changed or turned off (null); an evaluation of the old pair is dropped. */
  comparisonChanged: { comparison: ComparisonInfo | null };
  /**
   * A text/split filter still running. Without `viewId`: the first filter of a small file indexes its phrases (once):
   * how far it got, and how many rows from row `from` (where this query joined the build; 0 for the query that started
   * it) to `scanned` matched. With `viewId`: that view was answered while the file is still being read and grows with
   * it: `matches` is its new total (rows searched: `scanned`), `complete` once the whole file is searched.
   */
  filterProgress: {
    scanned: number; total: number; matches: number; from: number;
    viewId?: number; complete?: boolean; uncomputed?: number;
  };
  /** Host asks the webview to select and explain a sample (e.g. from a command). */
  select: { index: number };
  /**
   * An evaluation report was loaded into this viewer: its rows now have results (refresh the list and insights).
   * partial: still being read (the rows so far; the last event has no partial).
   */
  reportLoaded: { file: string; rows: number; computedCount: number; partial?: boolean };
  /** The file's images were found missing (a sample's image is not there), or found again (null): the banner follows. */
  missingImages: { missingImages: MissingImages | null };
}

export type EventName = keyof EventMap;

// ---------------------------------------------------------------------------------------------------------
// Envelopes: the generic request/response mechanism of rpc.ts with this channel's method and event maps.

export type RequestMessage = RequestEnvelope<RequestMap>;
export type { CancelMessage, ErrorPayload, ResponseMessage } from './rpc';
export type WebviewToHost = RequestMessage | CancelMessage;
export type EventMessage = EventEnvelope<EventMap>;
export type HostToWebview = ResponseMessage | EventMessage;

export const METHOD_NAMES: readonly Method[] = [
  'ready', 'setView', 'getRows', 'getSample', 'explainSample', 'explainPhrase', 'explainComparison', 'computeRows', 'savePng',
  'evaluate', 'revealSource', 'reportShown', 'allowImageFolder', 'getThumbnails', 'exportCsv', 'getInsights', 'chooseImageFolder',
];
const METHODS: ReadonlySet<string> = new Set<string>(METHOD_NAMES);

/** Validates the envelope of a message received from the webview (its content is checked by each handler). */
export function parseWebviewMessage(raw: unknown): WebviewToHost | { invalid: string } {
  return parseRequest<RequestMap>(raw, METHODS);
}

/** Thrown by host handlers to answer with a specific error code. */
export { RequestError } from './rpc';

export type RequestHandlers = Handlers<RequestMap>;

/**
 * Host side: dispatches requests to handlers and answers every one of them exactly once, with the result, or
 * with an error when the handler throws, the params are malformed, or the webview cancelled it.
 */
export class RequestServer extends RpcServer<RequestMap, EventMap> {
  constructor(handlers: RequestHandlers, post: (m: HostToWebview) => void) {
    super(METHOD_NAMES, handlers, post);
  }
}

/** Error a client request rejects with; `code` says why. */
export class RemoteError extends Error {
  constructor(message: string, readonly code: ErrorPayload['code']) { super(message); this.name = 'RemoteError'; }
}

/** Webview side: typed requests that resolve with the host's result or reject with a RemoteError. */
export class RequestClient extends RpcClient<RequestMap, EventMap> {
  constructor(post: (m: WebviewToHost) => void) {
    super(post, (e) => new RemoteError(e.message, e.code));
  }
}
