// What the viewer needs from a model: the subset of src/model/engine.ts's InferenceEngine it calls, written
// structurally so the viewer session (and its Chromium test host) does not import onnxruntime. No vscode import.
import type { Sample } from '../core/types';
import { itmNote } from '../model/card';
import type { InferenceEngine } from '../model/engine';
import type { ExplainResult } from '../model/runtime';
import type { ExplanationPayload, ModelInfo } from '../shared/protocol';

// The engine's result type itself; a type-only import, so nothing of onnxruntime is loaded here.
export type ExplainResultLike = ExplainResult;

export interface SampleExplanationLike extends ExplainResultLike {
  hit: boolean;
  lMean: number;
  lMax: number;
  total: number;
  maskEmpty: boolean;
}

export interface EngineLike {
  explain(image: string, phrase: string, signal?: AbortSignal): Promise<ExplainResultLike>;
  explainSample(sample: Sample, signal?: AbortSignal): Promise<SampleExplanationLike>;
  explainBatch(samples: Sample[], signal?: AbortSignal): Promise<(SampleExplanationLike | { error: string; reason?: string })[]>;
}

/** An engine plus what identifies its model: metrics are cached per `modelKey`. */
export interface Explainer {
  readonly modelKey: string;
  readonly info: ModelInfo;
  readonly engine: EngineLike;
  /** sha256 of grounding.onnx as the model card records it: the model's identity an evaluation report names. */
  readonly modelSha256?: string;
}

/**
 * The Explainer of an opened engine, as every viewer gets it (the extension's EngineHost and the Chromium test host
 * both build it here): the model's identity, what the viewer shows about the model — with the ITM note where the
 * card does not say the ITM head was trained, so that no score of an untrained head is shown — and the engine.
 */
export function engineExplainer(engine: InferenceEngine): Explainer {
  const note = itmNote(engine.card);
  return {
    modelKey: `${engine.modelDir}#${engine.card.files.grounding.sha256}`,
    modelSha256: engine.card.files.grounding.sha256,
    info: {
      name: engine.card.name, provider: engine.provider, providerNote: engine.providerNote, grid: engine.card.grid,
      dir: engine.modelDir,
      ...(note ? { itmNote: note } : {}),
    },
    engine,
  };
}

export function toPayload(
  index: number | null, phrase: string, r: ExplainResultLike, losses?: Partial<SampleExplanationLike>,
): ExplanationPayload {
  return {
    index, phrase,
    score: r.score,
    itmProbability: r.itmProbability,
    grid: r.grid,
    gradcam: Array.from(r.gradcam),
    tokens: [...r.tokens],
    tokenGradcam: r.tokenGradcam.map((m) => Array.from(m)),
    width: r.width,
    height: r.height,
    point: { x: r.point.x, y: r.point.y },
    hit: losses?.hit, lMean: losses?.lMean, lMax: losses?.lMax, total: losses?.total, maskEmpty: losses?.maskEmpty,
  };
}
