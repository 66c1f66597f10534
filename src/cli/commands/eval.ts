// `amc eval FILE`: pointing-game accuracy per split (spec §4) over every boxed query of an annotation file,
// with a progress bar on a terminal and a JSON report; Ctrl-C stops and still writes what was computed.
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { isDatasetFormat, openDataset, DATASET_FORMATS } from '../../core/datasets/index';
import { InferenceEngine } from '../../model/engine';
import { accuracyTable, evaluateDataset, progressLine, type EvalReport } from '../../model/evaluate';
import { resolveModelDir } from '../../model/locate';
import { intOption, UsageError, type CliIO } from '../command';
import { providerOption } from './explain';

export const summary = 'pointing-game accuracy per split of an annotation file, with a JSON report';
export const usage = `usage: amc eval FILE [--split S] [--limit N] [--batch B] [--model DIR] [--out report.json] [--worst K]
                [--image-root DIR] [--format F] [--provider auto|cuda|cpu] [--threads N]
  FILE              any supported annotation file (format detected from its content)
  --split S         only queries of this split (val, test, testA, testB, ...)
  --limit N         at most N queries
  --batch B         queries per graph run (default 8, the reference evaluation's batch)
  --model DIR       exported model folder (default: $AMC_MODEL, else models/amc-small-synthetic)
  --out FILE        JSON report (default: amc-eval-report.json); written on Ctrl-C too, marked "interrupted"
  --worst K         list the K worst samples in the report (misses first, then L_max; default 20)
  --image-root DIR  folder images are resolved against (default: the format's rule)
  --format F        skip detection: ${DATASET_FORMATS.join(' | ')}
  --provider P      auto (CUDA, else CPU) | cuda | cpu (default auto)
  --threads N       onnxruntime intra-op threads (default: one per core)`;

function parse(args: string[]) {
  try {
    return parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        split: { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' }, model: { type: 'string' },
        out: { type: 'string' }, worst: { type: 'string' }, 'image-root': { type: 'string' }, format: { type: 'string' },
        provider: { type: 'string' }, threads: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one FILE' : 'missing FILE');
  const batch = intOption('batch', values.batch) ?? 8;
  if (batch < 1) throw new UsageError('--batch must be at least 1');
  const limit = intOption('limit', values.limit);
  const worst = intOption('worst', values.worst) ?? 20;
  if (values.format !== undefined && !isDatasetFormat(values.format)) {
    throw new UsageError(`--format must be one of ${DATASET_FORMATS.join(', ')}, got '${values.format}'`);
  }
  const outFile = path.resolve(values.out ?? 'amc-eval-report.json');

  const ds = await openDataset(positionals[0], { imageRoot: values['image-root'], format: values.format as never });
  let engine: InferenceEngine | undefined;
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130); // second Ctrl-C: leave now
    io.err('\ninterrupted: finishing the current batch and writing the partial report (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const tty = process.stderr.isTTY === true;
  try {
    engine = await InferenceEngine.open(resolveModelDir(values.model), {
      provider: providerOption(values.provider), threads: intOption('threads', values.threads), batchSize: batch,
    });
    if (engine.providerNote) io.err(`note: ${engine.providerNote}`);
    let lastPrint = 0;
    const report: EvalReport = await evaluateDataset(engine, ds, {
      split: values.split, limit, worst, signal: controller.signal, pageSize: Math.max(batch * 8, 32),
      onProgress: (p) => {
        const now = Date.now();
        if (tty) process.stderr.write(`\r${progressLine(p)}`);
        else if (now - lastPrint > 10_000 || p.done === p.total) { io.err(progressLine(p)); lastPrint = now; }
      },
    });
    if (tty) process.stderr.write('\n');
    await writeFile(outFile, `${JSON.stringify(report, null, 1)}\n`);
    const firstError = report.samples.find((r) => r.error)?.error;
    await io.out(`${accuracyTable(report.accuracy)}\n` +
      `${report.counts.evaluated} queries scored in ${report.durationS.toFixed(1)} s (${report.samplesPerS.toFixed(1)} samples/s) with ${report.model.name} on ${report.model.provider}` +
      `${report.counts.skippedNoBox ? `; ${report.counts.skippedNoBox} without a box skipped` : ''}` +
      `${report.counts.errors ? `; ${report.counts.errors} failed (first: ${firstError})` : ''}\n` +
      `${report.interrupted ? 'INTERRUPTED: partial ' : ''}report ${outFile}\n`);
    return report.interrupted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSigint);
    await engine?.dispose();
    await ds.close();
  }
}
