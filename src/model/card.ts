// The model card (`models/<name>/model.json`) and the checks that a model folder is what its card says
// (docs/architecture.md "The model contract"). Every refusal names the file and what differs.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { RESAMPLINGS, type Resampling } from './pil-resample';
import type { IoSignature } from './session';
import { errorMessage } from '../core/errors';

/** The contract versions this engine understands. */
export const SUPPORTED_CONTRACT_VERSIONS = [1];

export const CARD_FILE = 'model.json';
export const IMAGE_ENCODER_FILE = 'image_encoder.onnx';
export const GROUNDING_FILE = 'grounding.onnx';

/**
 * Why the ITM score/probability of this model is not shown, or undefined when its ITM head was trained (issue 13:
 * a model trained on the AMC loss alone has an untrained ITM head, so its score means nothing).
 */
export function itmNote(card: Pick<ModelCard, 'itmTrained'>): string | undefined {
  if (card.itmTrained === true) return undefined;
  return card.itmTrained === false
    ? 'ITM head not trained for this model — only the GradCAM is meaningful'
    : 'the model card does not say whether the ITM head was trained (no itm_trained) — only the GradCAM is meaningful';
}

/** The card as the engine uses it (normalised from model.json). Other card fields are kept in `raw`. */
export interface ModelCard {
  contractVersion: number;
  name: string;
  imageSize: number;         // S
  patchSize: number;
  grid: number;              // g = S / patch
  visionWidth: number;       // Dv of image_embeds
  mean: [number, number, number];
  std: [number, number, number];
  resampling: Resampling;
  maxTextLength: number;     // [CLS] + wordpieces: the training length (captions truncated to it, docs/reference.md §3)
  /**
   * Longest phrase evaluation feeds ([CLS] + wordpieces): the text position table (`config.max_position`, 512 for
   * BERT). Evaluation does not truncate (docs/reference.md §4.2), so phrases longer than maxTextLength run as they are.
   */
  maxPositions: number;
  maxWords: number;          // pre_caption's max_words
  vocabFile: string;         // relative to the model folder
  /** sha256 of the vocabulary file (lowercase hex); undefined on cards exported before it was recorded. */
  vocabSha256?: string;
  lowercase: boolean;
  gradcamLayer: number;
  /** Card `itm_trained`: whether the ITM head was trained; undefined on cards exported before it was recorded. */
  itmTrained?: boolean;
  files: { imageEncoder: { file: string; sha256: string }; grounding: { file: string; sha256: string } };
  /** Inputs/outputs as the card records them (checked against the graphs too). */
  declared: {
    imageEncoder?: { inputs: IoSignature[]; outputs: IoSignature[] };
    grounding?: { inputs: IoSignature[]; outputs: IoSignature[] };
  };
  raw: Record<string, unknown>;
  /** Things the engine accepted but the user should know (CLI stderr "note:", the output channel). */
  warnings: string[];
}

export class ModelCardError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'ModelCardError';
  }
}

type Json = Record<string, unknown>;

function pick(obj: Json, keys: string[]): unknown {
  for (const k of keys) {
    const parts = k.split('.');
    let cur: unknown = obj;
    for (const p of parts) cur = cur && typeof cur === 'object' ? (cur as Json)[p] : undefined;
    if (cur !== undefined) return cur;
  }
  return undefined;
}

/** Read and check model.json. `modelDir` is the folder; the card must be `model.json` in it. */
export function readModelCard(modelDir: string): ModelCard {
  const file = path.join(modelDir, CARD_FILE);
  if (!existsSync(modelDir)) throw new ModelCardError(modelDir, 'model folder not found');
  if (!statSync(modelDir).isDirectory()) throw new ModelCardError(modelDir, 'is not a folder (a model is a folder with model.json, image_encoder.onnx, grounding.onnx, vocab.txt)');
  if (!existsSync(file)) throw new ModelCardError(file, 'model card not found: this folder is not an exported model (expected model.json, image_encoder.onnx, grounding.onnx, vocab.txt)');
  let raw: Json;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (e) {
    throw new ModelCardError(file, `not valid JSON (${errorMessage(e)})`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ModelCardError(file, 'the card must be a JSON object');
  return parseModelCard(raw, file);
}

export function parseModelCard(raw: Json, file: string): ModelCard {
  const problems: string[] = [];
  const num = (keys: string[], what: string, check: (v: number) => boolean = (v) => Number.isInteger(v) && v > 0): number => {
    const v = pick(raw, keys);
    if (typeof v !== 'number' || !check(v)) { problems.push(`${keys[0]} (${what}) ${v === undefined ? 'is missing' : `is invalid: ${JSON.stringify(v)}`}`); return NaN; }
    return v;
  };
  const triple = (keys: string[]): [number, number, number] => {
    const v = pick(raw, keys);
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      problems.push(`${keys[0]} must be three numbers (R, G, B), got ${JSON.stringify(v)}`);
      return [NaN, NaN, NaN];
    }
    return v as [number, number, number];
  };

  const contractVersion = num(['contract_version'], 'model contract version');
  if (Number.isFinite(contractVersion) && !SUPPORTED_CONTRACT_VERSIONS.includes(contractVersion)) {
    problems.push(`contract_version is ${contractVersion}, this version of AMC Grounding Lens reads ${SUPPORTED_CONTRACT_VERSIONS.join(', ')} (re-export the model or update the extension)`);
  }
  const imageSize = num(['image_size'], 'input side S');
  const patchSize = num(['patch_size'], 'ViT patch size');
  const grid = num(['grid'], 'GradCAM grid g');
  if (Number.isFinite(imageSize + patchSize + grid) && imageSize / patchSize !== grid) {
    problems.push(`grid ${grid} does not equal image_size / patch_size = ${imageSize}/${patchSize}`);
  }
  const visionWidth = num(['config.vision_width', 'vision_width'], 'width of image_embeds');
  const mean = triple(['mean']);
  const std = triple(['std']);
  if (std.some((s) => !(s > 0))) problems.push(`std must be positive, got ${JSON.stringify(std)}`);
  const resamplingRaw = pick(raw, ['resampling']);
  const resampling = typeof resamplingRaw === 'string' ? resamplingRaw.toLowerCase().replace(/^pil[-_.]?/, '') : '';
  if (!(RESAMPLINGS as readonly string[]).includes(resampling)) {
    problems.push(`resampling ${JSON.stringify(resamplingRaw)} is not one of ${RESAMPLINGS.join(', ')}`);
  }
  const maxTextLength = num(['max_text_length'], 'max tokens incl. [CLS]', (v) => Number.isInteger(v) && v >= 2);
  const maxWordsRaw = pick(raw, ['max_words']);
  const maxWords = typeof maxWordsRaw === 'number' && Number.isInteger(maxWordsRaw) && maxWordsRaw > 0 ? maxWordsRaw : 50;
  const maxPositionRaw = pick(raw, ['config.max_position', 'max_position']);
  let maxPositions = maxTextLength;
  if (maxPositionRaw !== undefined) {
    maxPositions = num(['config.max_position', 'max_position'], 'text position table size', (v) => Number.isInteger(v) && v >= 2);
    if (maxPositions < maxTextLength) problems.push(`config.max_position ${maxPositions} is below max_text_length ${maxTextLength}`);
  }
  const vocabFile = pick(raw, ['vocab']);
  if (typeof vocabFile !== 'string' || !vocabFile) problems.push('vocab (the WordPiece vocabulary file) is missing');
  const warnings: string[] = [];
  const vocabShaRaw = raw.vocab_sha256;
  if (vocabShaRaw !== undefined && (typeof vocabShaRaw !== 'string' || !/^[0-9a-f]{64}$/.test(vocabShaRaw))) {
    problems.push(`vocab_sha256 must be 64 lowercase hex digits, got ${JSON.stringify(vocabShaRaw)}`);
  }
  if (vocabShaRaw === undefined) {
    warnings.push(`${file}: the card records no vocab_sha256 (exported before it was recorded), so ${typeof vocabFile === 'string' ? vocabFile : 'the vocabulary'} ` +
      'cannot be checked against the model; re-export the model to record it');
  }
  const lowercaseRaw = pick(raw, ['lowercase']);
  if (raw.add_sep === true) problems.push('add_sep is true: ALBEF/AMC models take [CLS] + wordpieces with no [SEP] (docs/reference.md §0); this engine does not add one');
  const lowercase = lowercaseRaw === undefined ? true : lowercaseRaw === true;
  const gradcamLayer = num(['gradcam_layer'], 'cross-attention layer of GradCAM', (v) => Number.isInteger(v) && v >= 0);
  const name = typeof raw.name === 'string' && raw.name ? raw.name : path.basename(path.dirname(file));
  const itmTrainedRaw = raw.itm_trained;
  if (itmTrainedRaw !== undefined && typeof itmTrainedRaw !== 'boolean') problems.push(`itm_trained must be true or false, got ${JSON.stringify(itmTrainedRaw)}`);

  // sha256 of each graph: {"sha256": {"image_encoder.onnx": hex, "grounding.onnx": hex}} (exporter's layout).
  const shaMap = (raw.sha256 && typeof raw.sha256 === 'object' ? raw.sha256 : {}) as Json;
  const fileEntry = (fname: string): { file: string; sha256: string } => {
    const sha = shaMap[fname];
    if (typeof sha !== 'string' || !/^[0-9a-f]{64}$/i.test(sha)) problems.push(`sha256["${fname}"] is missing or not 64 hex digits`);
    return { file: fname, sha256: typeof sha === 'string' ? sha.toLowerCase() : '' };
  };
  const imageEncoder = fileEntry(IMAGE_ENCODER_FILE);
  const grounding = fileEntry(GROUNDING_FILE);
  const declared = { imageEncoder: declaredIo(raw, IMAGE_ENCODER_FILE, problems), grounding: declaredIo(raw, GROUNDING_FILE, problems) };

  if (problems.length) throw new ModelCardError(file, `invalid model card: ${problems.join('; ')}`);
  return {
    contractVersion, name, imageSize, patchSize, grid, visionWidth, mean, std, resampling: resampling as Resampling,
    maxTextLength, maxPositions, maxWords, vocabFile: vocabFile as string,
    vocabSha256: typeof vocabShaRaw === 'string' ? vocabShaRaw : undefined, lowercase, gradcamLayer,
    ...(typeof itmTrainedRaw === 'boolean' ? { itmTrained: itmTrainedRaw } : {}),
    files: { imageEncoder, grounding }, declared, raw, warnings,
  };
}

/** The card's own record of a graph's inputs and outputs ("inputs"/"outputs" → file → [{name, dtype, shape}]). */
function declaredIo(raw: Json, fname: string, problems: string[]): { inputs: IoSignature[]; outputs: IoSignature[] } | undefined {
  const read = (kind: 'inputs' | 'outputs'): IoSignature[] | undefined => {
    const byFile = raw[kind] as Json | undefined;
    if (!byFile || typeof byFile !== 'object') return undefined;
    const list = byFile[fname];
    if (list === undefined) return undefined;
    if (!Array.isArray(list)) { problems.push(`${kind}["${fname}"] must be a list`); return undefined; }
    return list.map((e: Json) => ({
      name: String(e.name), type: String(e.dtype ?? e.type),
      shape: Array.isArray(e.shape) ? (e.shape as (number | string)[]) : [],
    }));
  };
  const inputs = read('inputs'), outputs = read('outputs');
  return inputs || outputs ? { inputs: inputs ?? [], outputs: outputs ?? [] } : undefined;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('data', (d) => hash.update(d)).on('end', () => resolve()).on('error', reject);
  });
  return hash.digest('hex');
}

/** The files the card names exist and have the recorded sha256. */
export async function checkModelFiles(modelDir: string, card: ModelCard): Promise<void> {
  const problems: string[] = [];
  for (const { file, sha256 } of [card.files.imageEncoder, card.files.grounding]) {
    const p = path.join(modelDir, file);
    if (!existsSync(p)) { problems.push(`${file} is missing`); continue; }
    const actual = await sha256File(p);
    if (actual !== sha256) problems.push(`${file} has sha256 ${actual.slice(0, 12)}…, the card records ${sha256.slice(0, 12)}… (file changed after export?)`);
  }
  const vocab = path.join(modelDir, card.vocabFile);
  if (!existsSync(vocab)) problems.push(`${card.vocabFile} (vocabulary) is missing`);
  else if (card.vocabSha256) {
    // A vocabulary that differs from the exported one maps words to the wrong ids: wrong answers, no error.
    const actual = await sha256File(vocab);
    if (actual !== card.vocabSha256) {
      problems.push(`${vocab} has sha256 ${actual}, the card records vocab_sha256 ${card.vocabSha256} (the vocabulary is not the one the model was exported with)`);
    }
  }
  if (problems.length) throw new ModelCardError(path.join(modelDir, CARD_FILE), `model folder does not match its card: ${problems.join('; ')}`);
}

/** What each graph must look like given the card; `null` dims are free (batch, sequence length). */
export function expectedSignatures(card: ModelCard): {
  imageEncoder: { inputs: ExpectedIo[]; outputs: ExpectedIo[] };
  grounding: { inputs: ExpectedIo[]; outputs: ExpectedIo[] };
} {
  const S = card.imageSize, g = card.grid, N1 = g * g + 1, Dv = card.visionWidth;
  return {
    imageEncoder: {
      inputs: [{ name: 'image', type: 'float32', shape: [null, 3, S, S] }],
      outputs: [{ name: 'image_embeds', type: 'float32', shape: [null, N1, Dv] }],
    },
    grounding: {
      inputs: [
        { name: 'image_embeds', type: 'float32', shape: [null, N1, Dv] },
        { name: 'input_ids', type: 'int64', shape: [null, null] },
        { name: 'attention_mask', type: 'int64', shape: [null, null] },
      ],
      outputs: [
        { name: 'itm_logits', type: 'float32', shape: [null, 2] },
        { name: 'gradcam', type: 'float32', shape: [null, g, g] },
        { name: 'token_gradcam', type: 'float32', shape: [null, null, g, g] },
      ],
    },
  };
}

export interface ExpectedIo { name: string; type: string; shape: (number | string | null)[]; }

/**
 * Compare a graph's inputs/outputs as onnxruntime reports them with what they should be (`source` says who
 * expects it: the card's record, or the engine given the card's sizes). A symbolic (string) dim in the graph
 * matches a free dim; a fixed batch dim where the engine needs a dynamic one is reported too.
 */
export function compareSignatures(graphFile: string, kind: 'input' | 'output', actual: IoSignature[], expected: ExpectedIo[],
    source = 'the engine needs'): string[] {
  const problems: string[] = [];
  const fmt = (shape: readonly (number | string | null)[]): string => `[${shape.map((d) => d ?? '?').join(',')}]`;
  for (const exp of expected) {
    const got = actual.find((a) => a.name === exp.name);
    if (!got) {
      problems.push(`${graphFile} has no ${kind} "${exp.name}" (${source} it; the graph has ${actual.map((a) => `"${a.name}"`).join(', ') || 'none'})`);
      continue;
    }
    if (got.type !== exp.type) problems.push(`${graphFile} ${kind} "${exp.name}" is ${got.type}, ${source} ${exp.type}`);
    if (got.shape.length !== exp.shape.length) {
      problems.push(`${graphFile} ${kind} "${exp.name}" has shape ${fmt(got.shape)}, ${source} ${fmt(exp.shape)}`);
      continue;
    }
    exp.shape.forEach((d, i) => {
      const a = got.shape[i];
      if (d === null || typeof d === 'string') {
        if (typeof a === 'number' && i === 0) problems.push(`${graphFile} ${kind} "${exp.name}" has a fixed batch size ${a}; ${source} a dynamic batch axis`);
      } else if (typeof a === 'number' && a !== d) {
        problems.push(`${graphFile} ${kind} "${exp.name}" has shape ${fmt(got.shape)}, ${source} ${fmt(exp.shape)}`);
      }
    });
  }
  if (kind === 'input') {
    for (const a of actual) if (!expected.some((e) => e.name === a.name)) problems.push(`${graphFile} has an input "${a.name}" that ${source === 'the engine needs' ? 'the engine does not feed' : 'the card does not record'}`);
  }
  return [...new Set(problems)];
}
