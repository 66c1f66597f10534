// The model in one place: card + two onnxruntime sessions + tokenizer + image pipeline + embedding cache.
// Runs wherever it is created: the inference worker (worker.ts) for the editor and CLI, or in-process for
// benchmarks. Every number it returns goes through src/core (pointing game, losses).
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { sampleLosses } from '../core/math/amc';
import { isHit, pointingGame } from '../core/math/pointing';
import type { Sample } from '../core/types';
import {
  checkModelFiles, compareSignatures, expectedSignatures, readModelCard, type ModelCard, ModelCardError, CARD_FILE,
} from './card';
import { contentHash, decodeRgb, storedSize, DEFAULT_MAX_PIXELS, ImageError, normalizeToChw, readImageBytes } from './image';
import { resizeRgbLikePil, type Resampling } from './pil-resample';
import { openSession, signatureOf, type Provider, type ProviderSetting } from './session';
import { BertTokenizer, TokenizeError, type EncodedText } from './tokenizer';
import { DEFAULT_MAX_FILE_BYTES } from '../core/boundedRead';
import { errorMessage } from '../core/errors';

export interface RuntimeOptions {
  provider?: ProviderSetting;
  threads?: number;
  /** Images whose embeddings are kept (LRU). */
  imageCacheSize?: number;
  /** Largest batch sent to either graph (images for the encoder, phrases for grounding). */
  batchSize?: number;
  /** Refuse images over this many pixels (default 100 M). */
  maxPixels?: number;
  /** Largest image file read, in bytes (default DEFAULT_MAX_FILE_BYTES; setting amc.maxFileMB, CLI --max-file-mb). */
  maxFileBytes?: number;
  /** Skip the sha256 check of the ONNX files (benchmarks reopening the same model); default false. */
  skipHashCheck?: boolean;
  /**
   * Encode every query's image anew, as the reference evaluation does (its data loader yields image+text per
   * query): no cache, no sharing inside a batch. Only for the benchmark baseline (bench/eval).
   */
  perQueryImages?: boolean;
  /** Use grounding_image/grounding_text.onnx when the model folder has them (default true). */
  splitGrounding?: boolean;
  /** Memory budget of the image cache in bytes (default 512 MB); entries are evicted oldest first. */
  imageCacheBytes?: number;
}

export interface ExplainResult {
  score: number;            // raw ITM match logit (itm_logits[1])
  itmProbability: number;   // softmax(itm_logits)[1], for display
  grid: number;
  /**
   * Raw g×g map (row-major), docs/reference.md §1.3, as a batch of one computes it: mean over heads and over this phrase's
   * tokens. In a padded batch the graph divides by the padded length instead; that constant factor is undone here
   * so a sample's numbers never depend on its batch (the argmax never did).
   */
  gradcam: Float32Array;
  tokens: string[];
  tokenGradcam: Float32Array[];
  width: number;
  height: number;
  point: { x: number; y: number };
}

export interface SampleExplanation extends ExplainResult {
  hit: boolean;
  lMean: number;
  lMax: number;
  total: number;
  maskEmpty: boolean;
}

/** `reason`: the short cause without the file ("image not found", "phrase too long"), for grouped reports. */
export type BatchItem = SampleExplanation | { error: string; reason: string };

/** The short cause of a sample that cannot be explained, for grouping (see BatchItem). */
export function failureReason(e: unknown): string {
  if (e instanceof ImageError) return e.reason;
  if (e instanceof TokenizeError) return e.reason === 'empty' ? 'phrase has no words after cleaning' : 'phrase longer than the model takes';
  return 'cannot be explained';
}

export class AbortError extends Error {
  constructor() { super('cancelled'); this.name = 'AbortError'; }
}

/** Whether the pixels are used as stored or turned by their EXIF orientation tag. */
type Orientation = 'exif' | 'stored';

interface ImageRequest {
  file: string;
  orientation: Orientation;
  /** Default: the card's resampling. */
  resampling?: Resampling;
}

/**
 * The resize the reference evaluation uses for a benchmark (docs/reference.md §4): RefCOCO-family data (boxes stored xywh)
 * is resized with PIL bicubic, Flickr30k / Visual Genome style data bilinear. The trainer's evaluation
 * (trainer/amc_trainer/data.py EvalQuery.resample) applies the same rule, so both give the same hits.
 */
export function protocolResampling(sample: Sample): Resampling {
  return sample.hitRule === 'xywh' ? 'bicubic' : 'bilinear';
}

interface CachedImage {
  embeds: Float32Array;
  width: number;
  height: number;
  /** With a split grounding graph: the image-only tensors of grounding_image.onnx (batch dim 1 dropped). */
  frontier?: Float32Array[];
}

/** grounding.onnx cut at its image-only frontier (bench/eval/split_grounding.py): both halves and the cut tensors. */
interface SplitGrounding {
  image: ort.InferenceSession;
  text: ort.InferenceSession;
  frontier: string[];
  /** Per frontier tensor, its dims after the batch dim (learnt from the first run). */
  dims?: number[][];
  /** Reused input buffers for batched runs. */
  buffers?: Float32Array[];
}

export const SPLIT_FILE = 'grounding_split.json';

/** A bounded LRU (Map keeps insertion order; a hit is re-inserted at the end). */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  hits = 0;
  misses = 0;
  private bytes = 0;
  constructor(readonly capacity: number, readonly maxBytes = Infinity, private readonly sizeOf: (v: V) => number = () => 0) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) { this.misses++; return undefined; }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }
  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.delete(key);
    this.map.set(key, value);
    this.bytes += this.sizeOf(value);
    while (this.map.size > 1 && (this.map.size > this.capacity || this.bytes > this.maxBytes)) {
      this.delete(this.map.keys().next().value as K);
    }
  }
  private delete(key: K): void {
    const old = this.map.get(key);
    if (old === undefined) return;
    this.bytes -= this.sizeOf(old);
    this.map.delete(key);
  }
  get size(): number { return this.map.size; }
  get sizeBytes(): number { return this.bytes; }
  clear(): void { this.map.clear(); this.bytes = 0; }
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/** Open grounding_image/grounding_text.onnx if they were cut from exactly this model's grounding.onnx. */
async function openSplit(dir: string, card: ModelCard, opts: RuntimeOptions): Promise<SplitGrounding> {
  const file = path.join(dir, SPLIT_FILE);
  const meta = JSON.parse(readFileSync(file, 'utf8')) as { source_sha256?: string; frontier?: string[] };
  if (meta.source_sha256 !== card.files.grounding.sha256) {
    throw new ModelCardError(file, `was cut from a grounding.onnx with sha256 ${String(meta.source_sha256).slice(0, 12)}…, the card records ${card.files.grounding.sha256.slice(0, 12)}… (re-run bench/eval/split_grounding.py)`);
  }
  if (!Array.isArray(meta.frontier) || !meta.frontier.length) throw new ModelCardError(file, 'lists no frontier tensors');
  const image = (await openSession(path.join(dir, 'grounding_image.onnx'), opts)).session;
  const text = (await openSession(path.join(dir, 'grounding_text.onnx'), opts)).session;
  return { image, text, frontier: meta.frontier };
}

export class ModelRuntime {
  readonly tokenizer: BertTokenizer;
  readonly batchSize: number;
  private readonly cache: LruCache<string, CachedImage>;
  private readonly hashMemo = new LruCache<string, string>(4096); // path|mtime|size → content hash
  private readonly maxPixels: number;
  private readonly maxFileBytes: number;
  /** Counters for tests and benchmarks. */
  readonly stats = { imagesEncoded: 0, encoderRuns: 0, groundingRuns: 0, phrasesGrounded: 0 };

  private constructor(
    readonly modelDir: string,
    readonly card: ModelCard,
    private readonly encoder: ort.InferenceSession,
    private readonly grounding: ort.InferenceSession,
    readonly provider: Provider,
    readonly providerNote: string | undefined,
    readonly providerDetail: string | undefined,
    opts: RuntimeOptions,
    private readonly split?: SplitGrounding,
  ) {
    this.tokenizer = BertTokenizer.fromVocabFile(path.join(modelDir, card.vocabFile), {
      maxLength: card.maxTextLength, maxPositions: card.maxPositions, lowercase: card.lowercase, maxWords: card.maxWords,
    });
    this.batchSize = Math.max(1, Math.floor(opts.batchSize ?? 8));
    this.cache = new LruCache<string, CachedImage>(opts.imageCacheSize ?? 64, opts.imageCacheBytes ?? 512 * 2 ** 20,
      (c) => 4 * (c.embeds.length + (c.frontier ?? []).reduce((a, f) => a + f.length, 0)));
    this.maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
    this.maxFileBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.perQueryImages = opts.perQueryImages ?? false;
  }

  private readonly perQueryImages: boolean;

  /** Read the card, check file hashes, open both graphs and refuse any I/O that does not match the card. */
  static async open(modelDir: string, opts: RuntimeOptions = {}): Promise<ModelRuntime> {
    const dir = path.resolve(modelDir);
    const card = readModelCard(dir);
    if (!opts.skipHashCheck) await checkModelFiles(dir, card);
    const enc = await openSession(path.join(dir, card.files.imageEncoder.file), opts);
    let gr;
    try {
      gr = await openSession(path.join(dir, card.files.grounding.file), { ...opts, provider: enc.provider });
    } catch (e) {
      await enc.session.release();
      throw e;
    }
    const exp = expectedSignatures(card);
    const encIn = signatureOf(enc.session.inputMetadata), encOut = signatureOf(enc.session.outputMetadata);
    const grIn = signatureOf(gr.session.inputMetadata), grOut = signatureOf(gr.session.outputMetadata);
    const problems = [
      // what the card says the graphs are ...
      ...(card.declared.imageEncoder ? [
        ...compareSignatures(card.files.imageEncoder.file, 'input', encIn, card.declared.imageEncoder.inputs, 'the card records'),
        ...compareSignatures(card.files.imageEncoder.file, 'output', encOut, card.declared.imageEncoder.outputs, 'the card records'),
      ] : []),
      ...(card.declared.grounding ? [
        ...compareSignatures(card.files.grounding.file, 'input', grIn, card.declared.grounding.inputs, 'the card records'),
        ...compareSignatures(card.files.grounding.file, 'output', grOut, card.declared.grounding.outputs, 'the card records'),
      ] : []),
      // ... and what this engine needs them to be, given the card's sizes
      ...compareSignatures(card.files.imageEncoder.file, 'input', encIn, exp.imageEncoder.inputs),
      ...compareSignatures(card.files.imageEncoder.file, 'output', encOut, exp.imageEncoder.outputs),
      ...compareSignatures(card.files.grounding.file, 'input', grIn, exp.grounding.inputs),
      ...compareSignatures(card.files.grounding.file, 'output', grOut, exp.grounding.outputs),
    ];
    const unique = [...new Set(problems)];
    if (unique.length) {
      await enc.session.release();
      await gr.session.release();
      throw new ModelCardError(path.join(dir, CARD_FILE), `the ONNX graphs do not match the card: ${unique.join('; ')}`);
    }
    let split: SplitGrounding | undefined;
    if (opts.splitGrounding !== false && existsSync(path.join(dir, SPLIT_FILE))) {
      split = await openSplit(dir, card, { ...opts, provider: enc.provider }).catch(async (e) => {
        await enc.session.release();
        await gr.session.release();
        throw e;
      });
    }
    return new ModelRuntime(dir, card, enc.session, gr.session, enc.provider, enc.providerNote, enc.providerDetail, opts, split);
  }

  async dispose(): Promise<void> {
    this.cache.clear();
    await this.encoder.release();
    await this.grounding.release();
    await this.split?.image.release();
    await this.split?.text.release();
  }

  /** Whether phrases run grounding_text.onnx against cached per-image tensors. */
  get usesSplitGrounding(): boolean { return this.split !== undefined; }

  get cacheStats(): { size: number; hits: number; misses: number } {
    return { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses };
  }

  // -- images --------------------------------------------------------------------------------------------

  private async imageKey(file: string): Promise<{ hash: string; bytes?: Buffer }> {
    let st;
    try {
      st = statSync(file);
    } catch {
      return { hash: '', bytes: await readImageBytes(file, this.maxFileBytes) }; // readImageBytes gives the message
    }
    const memoKey = `${file}|${st.mtimeMs}|${st.size}`;
    const known = this.hashMemo.get(memoKey);
    if (known) return { hash: known };
    const bytes = await readImageBytes(file, this.maxFileBytes);
    const hash = contentHash(bytes);
    this.hashMemo.set(memoKey, hash);
    return { hash, bytes };
  }

  /**
   * Embeddings for each distinct image (file path + orientation), encoding the ones not cached in batches.
   * Returns one entry per request: the cached image or the error that names the file.
   */
  async images(requests: ImageRequest[], signal?: AbortSignal): Promise<(CachedImage | ImageError | Error)[]> {
    const out: (CachedImage | ImageError | Error | undefined)[] = new Array(requests.length);
    const pending: { idx: number; key: string; width: number; height: number; tensor: Float32Array }[] = [];
    const S = this.card.imageSize;
    for (let i = 0; i < requests.length; i++) {
      throwIfAborted(signal);
      const { file, orientation } = requests[i];
      const resampling = requests[i].resampling ?? this.card.resampling;
      try {
        const { hash, bytes } = await this.imageKey(file);
        const key = this.perQueryImages ? `${hash}|${orientation}|${resampling}|query${i}` : `${hash}|${orientation}|${resampling}`;
        const hit = this.perQueryImages ? undefined : this.cache.get(key);
        if (hit) { out[i] = hit; continue; }
        const dup = pending.find((p) => p.key === key);
        if (dup) { out[i] = undefined; pending.push({ ...dup, idx: i }); continue; }
        const rgb = await decodeRgb(bytes ?? await readImageBytes(file, this.maxFileBytes), file, this.maxPixels, orientation === 'exif');
        const resized = resizeRgbLikePil(rgb.data, rgb.width, rgb.height, S, S, resampling);
        pending.push({
          idx: i, key, width: rgb.width, height: rgb.height, tensor: normalizeToChw(resized, S, this.card.mean, this.card.std),
        });
      } catch (e) {
        out[i] = e instanceof Error ? e : new Error(String(e));
      }
    }
    // Encode distinct keys in batches.
    const distinct = [...new Map(pending.map((p) => [p.key, p])).values()];
    const plane = 3 * S * S;
    for (let start = 0; start < distinct.length; start += this.batchSize) {
      throwIfAborted(signal);
      const chunk = distinct.slice(start, start + this.batchSize);
      const input = new Float32Array(chunk.length * plane);
      chunk.forEach((p, b) => input.set(p.tensor, b * plane));
      const result = await this.encoder.run({ image: new ort.Tensor('float32', input, [chunk.length, 3, S, S]) });
      this.stats.encoderRuns++;
      this.stats.imagesEncoded += chunk.length;
      const embeds = result.image_embeds;
      const per = embeds.data.length / chunk.length;
      const data = embeds.data as Float32Array;
      const frontiers = this.split ? await this.runSplitImage(embeds as ort.Tensor, chunk.length) : undefined;
      if (!this.perQueryImages) {
        chunk.forEach((p, b) => {
          this.cache.set(p.key, { embeds: data.slice(b * per, (b + 1) * per), width: p.width, height: p.height, frontier: frontiers?.[b] });
        });
      }
      for (const v of Object.values(result)) v.dispose();
      // Resolve every request waiting on these keys (the cache may already have evicted an early one when the
      // request spans more images than the cache holds, so answer from the chunk directly).
      for (const p of pending) {
        const b = chunk.findIndex((c) => c.key === p.key);
        if (b >= 0) out[p.idx] = { embeds: data.slice(b * per, (b + 1) * per), width: p.width, height: p.height, frontier: frontiers?.[b] };
      }
    }
    return out as (CachedImage | Error)[];
  }

  // -- grounding -----------------------------------------------------------------------------------------

  /** One grounding run on up to batchSize pairs (padded to the longest phrase). */
  private runGrounding(chunk: { image: CachedImage; text: EncodedText }[]): Promise<ort.InferenceSession.ReturnType> {
    const B = chunk.length;
    const T = Math.max(...chunk.map((p) => p.text.ids.length));
    if (this.split?.dims && chunk.every((p) => p.image.frontier)) {
      const ids = new BigInt64Array(B * T);
      const mask = new BigInt64Array(B * T);
      chunk.forEach((p, b) => p.text.ids.forEach((id, t) => { ids[b * T + t] = BigInt(id); mask[b * T + t] = 1n; }));
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', ids, [B, T]),
        attention_mask: new ort.Tensor('int64', mask, [B, T]),
      };
      this.split.frontier.forEach((name, f) => {
        const rest = this.split!.dims![f];
        if (B === 1) { // the cached tensors themselves, no copy
          feeds[name] = new ort.Tensor('float32', chunk[0].image.frontier![f], [1, ...rest]);
          return;
        }
        const per = rest.reduce((a, d) => a * d, 1);
        // one reusable buffer per frontier tensor (allocating B·15 MB per run at base is mostly GC)
        const buffers = (this.split!.buffers ??= []);
        if (!buffers[f] || buffers[f].length < this.batchSize * per) buffers[f] = new Float32Array(this.batchSize * per);
        const buf = buffers[f].subarray(0, B * per);
        chunk.forEach((p, b) => buf.set(p.image.frontier![f], b * per));
        feeds[name] = new ort.Tensor('float32', buf, [B, ...rest]);
      });
      this.stats.groundingRuns++;
      this.stats.phrasesGrounded += B;
      return this.split.text.run(feeds);
    }
    const per = chunk[0].image.embeds.length;
    const embeds = new Float32Array(B * per);
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    chunk.forEach((p, b) => {
      embeds.set(p.image.embeds, b * per);
      p.text.ids.forEach((id, t) => { ids[b * T + t] = BigInt(id); mask[b * T + t] = 1n; });
    });
    const N1 = per / this.card.visionWidth;
    this.stats.groundingRuns++;
    this.stats.phrasesGrounded += B;
    return this.grounding.run({
      image_embeds: new ort.Tensor('float32', embeds, [B, N1, this.card.visionWidth]),
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
    });
  }

  /**
   * Run the grounding graph on (image embeds, tokenized phrase) pairs, in batches; results in order, each handed to
   * `finish` (e.g. the per-sample losses) as soon as its batch is done. onnxruntime-node's `run()` executes
   * synchronously on the calling thread (its backend.js wraps the native call in setImmediate), so nothing here
   * overlaps the graph; that is why the engine runs all of this in a worker thread.
   */
  async ground(pairs: { image: CachedImage; text: EncodedText }[], signal?: AbortSignal,
      finish?: (r: ExplainResult, index: number) => void): Promise<ExplainResult[]> {
    const g = this.card.grid, gg = g * g;
    const out: ExplainResult[] = [];
    for (let start = 0; start < pairs.length; start += this.batchSize) {
      throwIfAborted(signal);
      const chunk = pairs.slice(start, start + this.batchSize);
      const res = await this.runGrounding(chunk);
      const T = Math.max(...chunk.map((p) => p.text.ids.length));
      const logits = res.itm_logits.data as Float32Array;
      const cam = res.gradcam.data as Float32Array;
      const tok = res.token_gradcam.data as Float32Array;
      chunk.forEach((p, b) => {
        const n = p.text.ids.length;
        const l0 = logits[b * 2], l1 = logits[b * 2 + 1];
        const m = Math.max(l0, l1);
        const e0 = Math.exp(l0 - m), e1 = Math.exp(l1 - m);
        const gradcam = new Float32Array(gg);
        const scale = T / n; // undo the padded divisor (see ExplainResult.gradcam)
        for (let i = 0; i < gg; i++) gradcam[i] = n === T ? cam[b * gg + i] : cam[b * gg + i] * scale;
        const tokenGradcam: Float32Array[] = [];
        for (let t = 0; t < n; t++) tokenGradcam.push(tok.slice((b * T + t) * gg, (b * T + t + 1) * gg));
        const { point } = pointingGame(gradcam, g, p.image.width, p.image.height, []);
        const r: ExplainResult = {
          score: l1, itmProbability: e1 / (e0 + e1), grid: g, gradcam, tokens: p.text.tokens, tokenGradcam,
          width: p.image.width, height: p.image.height, point,
        };
        finish?.(r, out.length);
        out.push(r);
      });
      for (const v of Object.values(res)) v.dispose();
    }
    return out;
  }

  /**
   * One run of each graph on a blank image and "[CLS]", so the first real request does not pay onnxruntime's
   * first-run allocations and kernel selection. Touches no cache and no counter.
   */
  async warmUp(): Promise<void> {
    const S = this.card.imageSize;
    const enc = await this.encoder.run({ image: new ort.Tensor('float32', new Float32Array(3 * S * S), [1, 3, S, S]) });
    const embeds = enc.image_embeds as ort.Tensor;
    const frontier = this.split ? (await this.runSplitImage(embeds, 1))[0] : undefined;
    const cls = this.tokenizer.vocab.indexOf('[CLS]');
    const before = { ...this.stats };
    const res = await this.runGrounding([{
      image: { embeds: embeds.data as Float32Array, width: 1, height: 1, frontier },
      text: { caption: '', ids: [cls], tokens: ['[CLS]'] },
    }]);
    Object.assign(this.stats, before);
    for (const v of [...Object.values(enc), ...Object.values(res)]) v.dispose();
  }

  /** The image-only frontier of the grounding graph for a batch of image embeddings, split per image. */
  private async runSplitImage(embeds: ort.Tensor, B: number): Promise<Float32Array[][]> {
    const split = this.split!;
    const res = await split.image.run({ image_embeds: embeds });
    const dims: number[][] = [];
    const perImage: Float32Array[][] = Array.from({ length: B }, () => []);
    split.frontier.forEach((name) => {
      const t = res[name];
      if (t.dims[0] !== B) throw new Error(`${SPLIT_FILE}: frontier tensor ${name} has dims [${t.dims.join(',')}], expected the batch (${B}) first`);
      const rest = t.dims.slice(1) as number[];
      dims.push(rest);
      const data = t.data as Float32Array;
      const per = data.length / B;
      for (let b = 0; b < B; b++) perImage[b].push(data.slice(b * per, (b + 1) * per));
    });
    split.dims = dims;
    for (const v of Object.values(res)) v.dispose();
    return perImage;
  }

  // -- the API -------------------------------------------------------------------------------------------

  /** Tokenize or throw a TokenizeError that names the phrase. */
  encodePhrase(phrase: string): EncodedText {
    return this.tokenizer.encodePhrase(phrase);
  }

  async explain(image: string, phrase: string, signal?: AbortSignal): Promise<ExplainResult> {
    const text = this.encodePhrase(phrase);
    const [img] = await this.images([{ file: image, orientation: 'exif' }], signal);
    if (img instanceof Error) throw img;
    const [r] = await this.ground([{ image: img, text }], signal);
    return r;
  }

  async explainSample(sample: Sample, signal?: AbortSignal): Promise<SampleExplanation> {
    const [r] = await this.explainSamples([sample], signal);
    if ('error' in r) throw new Error(r.error);
    return r;
  }

  /**
   * Every sample explained, in order; a sample that cannot be (missing image, empty phrase, ...) gets
   * `{ error }` naming the sample and the reason, and the others still run.
   */
  async explainSamples(samples: Sample[], signal?: AbortSignal): Promise<BatchItem[]> {
    const out: BatchItem[] = new Array(samples.length);
    const texts: (EncodedText | undefined)[] = samples.map((s, i) => {
      // A box with a NaN/infinite coordinate cannot be scored (the hit and the losses would be NaN).
      const bad = s.boxes.find((b) => !b.every(Number.isFinite));
      if (bad) {
        out[i] = { error: `${sampleLabel(s)}: box ${JSON.stringify(bad)} has a coordinate that is not a finite number`, reason: 'bad box' };
        return undefined;
      }
      try {
        return this.encodePhrase(s.phrase);
      } catch (e) {
        out[i] = { error: `${sampleLabel(s)}: ${errorMessage(e)}`, reason: failureReason(e) };
        return undefined;
      }
    });
    const wanted = samples.map((s, i) => (texts[i] ? i : -1)).filter((i) => i >= 0);
    const orientations = await Promise.all(wanted.map((i) => this.orientationFor(samples[i])));
    const imgs = await this.images(wanted.map((i, k) => ({
      file: samples[i].image, orientation: orientations[k], resampling: protocolResampling(samples[i]),
    })), signal);
    const pairs: { idx: number; image: CachedImage; text: EncodedText }[] = [];
    wanted.forEach((i, k) => {
      const img = imgs[k];
      if (img instanceof Error) out[i] = { error: `${sampleLabel(samples[i])}: ${img.message}`, reason: failureReason(img) };
      else pairs.push({ idx: i, image: img, text: texts[i]! });
    });
    await this.ground(pairs, signal, (r, k) => {
      const p = pairs[k];
      const s = samples[p.idx];
      const hit = isHit(r.point, s.boxes, 'xyxy'); // Sample.boxes are xyxy for every hit rule (types.ts)
      const losses = sampleLosses(r.gradcam, r.grid, s.boxes, r.width, r.height);
      out[p.idx] = { ...r, hit, lMean: losses.lMean, lMax: losses.lMax, total: losses.total, maskEmpty: losses.maskEmpty };
    });
    return out;
  }

  /**
   * EXIF orientation is applied unless the annotation states the image size and that size is the stored
   * (unrotated) one: boxes are in the pixel frame the annotator saw, and most dataset tools (PIL, the reference
   * evaluation) ignore the EXIF tag.
   */
  private async orientationFor(sample: Sample): Promise<Orientation> {
    if (!sample.width || !sample.height) return 'exif';
    try {
      const s = await storedSize(sample.image, this.maxFileBytes);
      if (s && s.orientation >= 5 && s.width === sample.width && s.height === sample.height) return 'stored';
    } catch { /* the image error is reported by images() */ }
    return 'exif';
  }
}

export function sampleLabel(s: Sample): string {
  return `${s.source?.file ?? ''}${s.source?.entry ? ` (${s.source.entry})` : ` sample ${s.index}`}`.trim();
}
