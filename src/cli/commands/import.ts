// `amc import CHECKPOINT`: a PyTorch checkpoint (ALBEF.pth, AMC best_*.pth, ours) → an exported model folder the
// other commands take with --model. Progress and every missing/unexpected key go to stderr; the folder to stdout.
import * as path from 'node:path';
import { parseCommandArgs } from '../options';
import { defaultImportDir, ImportError, importCheckpoint, stageWords } from '../../model/importCheckpoint';
import { packageRoot } from '../../model/locate';
import { AbortError } from '../../model/runtime';
import { chooseInterpreter, interpreterCandidates, MIN_TORCH } from '../../tasks/python';
import { UsageError, type CliIO } from '../command';

export const summary = 'export a PyTorch checkpoint (ALBEF.pth, AMC best_*.pth, ours) to a model folder';
export const usage = `usage: amc import CHECKPOINT [--out DIR] [--image-res 256|384] [--config base|small|FILE]
  CHECKPOINT        ALBEF's ALBEF.pth, AMC's best_*.pth (full or evaluation key set), or an amc_trainer checkpoint
  --out DIR         model folder to write (default: <checkpoint name>-onnx next to the checkpoint); must be new or empty
  --image-res N     input size 256 or 384 (default: the checkpoint's, from its pos_embed)
  --config C        the architecture, checked against the tensor shapes: base, small, or a JSON ModelConfig /
                    trainer config (default: the checkpoint's saved config, else the architecture its shapes match)
  Runs the bundled trainer's exporter with the Python that \`amc python\` finds ($AMC_PYTHON to choose), checks the
  graphs against PyTorch on the exported fixture, and prints the model folder. Exit 2: checkpoint refused.`;

function parse(args: string[]) {
  return parseCommandArgs(args, { out: { type: 'string' }, 'image-res': { type: 'string' }, config: { type: 'string' } }, true);
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError('expected exactly one CHECKPOINT');
  const imageRes = values['image-res'];
  if (imageRes !== undefined && imageRes !== '256' && imageRes !== '384') throw new UsageError(`--image-res must be 256 or 384, got '${imageRes}'`);
  const { chosen } = await chooseInterpreter(interpreterCandidates(process.env.AMC_PYTHON ?? '', undefined));
  if (!chosen) {
    io.err(`amc import: no Python with PyTorch >= ${MIN_TORCH.join('.')} found; run 'amc python' for details, or set AMC_PYTHON`);
    return 1;
  }
  const checkpoint = path.resolve(positionals[0]);
  const outDir = values.out ? path.resolve(values.out) : defaultImportDir(checkpoint);
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const t0 = performance.now();
  let lastStage = '';
  try {
    io.err(`import: ${checkpoint} → ${outDir} (Python ${chosen.executable ?? chosen.candidate.path})`);
    const result = await importCheckpoint({
      python: chosen.executable ?? chosen.candidate.path, trainerRoot: path.join(packageRoot(), 'trainer'), checkpoint, outDir,
      imageRes: imageRes ? (Number(imageRes) as 256 | 384) : undefined, config: values.config, signal: controller.signal,
      onLog: io.verbose ? (line) => io.err(`  ${line}`) : undefined,
      onEvent: (ev) => {
        const elapsed = `${Math.round((performance.now() - t0) / 1000)} s`;
        if (ev.event === 'progress' && ev.stage !== lastStage) {
          lastStage = ev.stage;
          io.err(`import: ${String(Math.round(ev.fraction * 100)).padStart(3)}%  ${stageWords(ev.stage)} (${elapsed})`);
        } else if (ev.event === 'architecture') {
          const c = ev.config as Record<string, number>;
          io.err(`import: ${ev.layout}; architecture from ${ev.source}: ViT ${c.vision_depth}×${c.vision_width}, ` +
            `BERT ${c.text_layers}×${c.text_width} (fusion at layer ${c.fusion_layer}, GradCAM layer ${c.gradcam_layer}), ` +
            `vocabulary ${c.vocab_size}, ${c.max_position} positions, ${c.image_res} px`);
        } else if (ev.event === 'keys') {
          for (const k of ev.missing) io.err(`import: missing key ${k}`);
          for (const k of ev.unexpected) io.err(`import: unexpected key ${k} (not used by the model)`);
          if (!ev.missing.length && !ev.unexpected.length) io.err('import: every checkpoint key maps onto the model; none missing');
        }
      },
    });
    io.err(`import: graphs agree with PyTorch on the fixture (largest relative error ${result.parityError.toExponential(1)}); ` +
      `ITM head ${result.itmTrained ? 'trained' : 'not trained (its score is not shown)'}; ${result.seconds.toFixed(0)} s`);
    await io.out(`${result.outDir}\n`);
    return 0;
  } catch (e) {
    if (e instanceof AbortError) { io.err('amc import: cancelled; nothing was written'); return 130; }
    if (e instanceof ImportError) { io.err(`amc import: ${e.message}`); return 2; }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
