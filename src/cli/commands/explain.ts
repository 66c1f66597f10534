// `amc explain IMAGE "phrase"`: where does the model look for this phrase? Writes the side-by-side figure
// (image | GradCAM overlay + pointing-game point | per-token strip) and prints the ITM score and the point.
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InferenceEngine, type ProviderSetting } from '../../model/engine';
import { itmNote } from '../../model/card';
import { explainFigure } from '../../model/figure';
import { resolveModelDir } from '../../model/locate';
import { UsageError, type CliIO } from '../command';
import { maxFileBytesOption, parseCommandArgs, threadsOption } from '../options';

export const summary = 'explain a phrase on an image: GradCAM figure, ITM score and pointing-game point';
export const usage = `usage: amc explain IMAGE "PHRASE" [--model DIR] [--out FILE.png] [--json] [--provider auto|cuda|cpu] [--threads N]
                   [--max-file-mb N]
  IMAGE            any image file sharp reads (JPEG, PNG, WebP, TIFF, ...)
  PHRASE           the text to ground; cleaned with pre_caption and tokenized as the model was trained
  --model DIR      exported model folder (default: $AMC_MODEL, else the bundled models/amc-small-synthetic)
  --out FILE.png   figure path (default: <image name>-explain.png in the current folder)
  --json           print the result as JSON (score, point, tokens, raw g×g GradCAM, per-token maps)
  --provider P     onnxruntime execution provider: auto (CUDA, else CPU), cuda, cpu (default auto)
  --threads N      onnxruntime intra-op threads: 0 (default) lets onnxruntime choose, else 1..4 × cores (at most 64)
  --max-file-mb N  refuse image files over N MB (default 256); devices, FIFOs and folders are always refused
  --verbose        also print onnxruntime's own provider message and the time each step took`;

function parse(args: string[]) {
  return parseCommandArgs(args, {
    model: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' },
    provider: { type: 'string' }, threads: { type: 'string' }, 'max-file-mb': { type: 'string' },
  }, true);
}

export function providerOption(value: string | undefined): ProviderSetting | undefined {
  if (value === undefined) return undefined;
  if (value !== 'auto' && value !== 'cuda' && value !== 'cpu') throw new UsageError(`--provider must be auto, cuda or cpu, got '${value}'`);
  return value;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 2) throw new UsageError(positionals.length < 2 ? 'expected IMAGE and "PHRASE"' : 'expected exactly IMAGE and one "PHRASE" (quote the phrase)');
  const [image, phrase] = positionals;
  const t0 = performance.now();
  const threads = threadsOption(values.threads);
  const maxFileBytes = maxFileBytesOption(values['max-file-mb']);
  const engine = await InferenceEngine.open(resolveModelDir(values.model), {
    provider: providerOption(values.provider), threads, maxFileBytes,
  });
  try {
    if (io.verbose && engine.providerDetail) io.err(`onnxruntime: ${engine.providerDetail}`);
    const tOpen = performance.now();
    for (const w of engine.card.warnings) io.err(`note: ${w}`);
    const r = await engine.explain(path.resolve(image), phrase);
    const note = itmNote(engine.card);
    const tExplain = performance.now();
    const out = path.resolve(values.out ?? `${path.parse(image).name}-explain.png`);
    await writeFile(out, await explainFigure(path.resolve(image), phrase, r, { maxFileBytes, itmNote: note }));
    const tFigure = performance.now();
    if (io.verbose) {
      io.err(`time: model ${Math.round(tOpen - t0)} ms, explain ${Math.round(tExplain - tOpen)} ms, ` +
        `figure ${Math.round(tFigure - tExplain)} ms, total ${Math.round(tFigure - t0)} ms`);
    }
    if (values.json) {
      await io.out(`${JSON.stringify({
        image: path.resolve(image), phrase, model: engine.card.name, provider: engine.provider,
        providerNote: engine.providerNote ?? null, providerDetail: engine.providerDetail ?? null,
        // null, not a number, where the ITM head was not trained: the value means nothing (itmNote says why)
        score: note ? null : r.score, itmProbability: note ? null : r.itmProbability, itmNote: note ?? null,
        point: r.point, width: r.width, height: r.height,
        grid: r.grid, tokens: r.tokens, gradcam: Array.from(r.gradcam), tokenGradcam: r.tokenGradcam.map((m) => Array.from(m)),
        figure: out,
      })}\n`);
    } else {
      await io.out((note ? `score not shown: ${note}\n` : `score ${r.score.toFixed(4)} (ITM match logit; p = ${r.itmProbability.toFixed(4)})\n`) +
        `point (${r.point.x}, ${r.point.y}) in ${r.width}×${r.height} px\n` +
        `tokens ${r.tokens.join(' ')}\n` +
        `model ${engine.card.name} on ${engine.providerNote ?? engine.provider}\n` +
        `figure ${out}\n`);
    }
    return 0;
  } finally {
    await engine.dispose();
  }
}
