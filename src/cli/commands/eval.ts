// `amc eval FILE`: pointing-game accuracy per split (docs/reference.md §4) over every boxed query of an annotation file,
// with a progress bar on a terminal and a JSON report; Ctrl-C, SIGTERM and SIGHUP stop and still write what was
// computed. Queries that cannot be scored are counted and listed beside the accuracy, and make the exit code 1.
import { constants as fsConstants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import * as path from 'node:path';
import { isDatasetFormat, openDataset, DATASET_FORMATS } from '../../core/datasets/index';
import { InferenceEngine } from '../../model/engine';
import { accuracyTable, evaluateDataset, progressLine, type EvalReport } from '../../model/evaluate';
import { resolveModelDir } from '../../model/locate';
import { reportAccuracyRows, reportJson } from '../report';
import { intOption, UsageError, type CliIO } from '../command';
import { maxFileBytesOption, parseCommandArgs, threadsOption } from '../options';
import { providerOption } from './explain';

export const summary = 'pointing-game accuracy per split of an annotation file, with a JSON report';
export const usage = `usage: amc eval FILE [--split S] [--limit N] [--batch B] [--model DIR] [--out report.json] [--worst K]
                [--image-root DIR] [--format F] [--provider auto|cuda|cpu] [--threads N] [--max-file-mb N]
  FILE              any supported annotation file (format detected from its content)
  --split S         only queries of this split (val, test, testA, testB, ...)
  --limit N         at most N queries
  --batch B         queries per graph run (default 8, the reference evaluation's batch)
  --model DIR       exported model folder (default: $AMC_MODEL, else models/amc-small-synthetic)
  --out FILE        JSON report (default: amc-eval-report.json; its folder must exist); written on Ctrl-C,
                    SIGTERM and SIGHUP too, marked "interrupted"
  --worst K         list the K worst samples in the report (misses first, then L_max; default 20)
  --image-root DIR  folder images are resolved against (default: the format's rule)
  --format F        skip detection: ${DATASET_FORMATS.join(' | ')}
  --provider P      auto (CUDA, else CPU) | cuda | cpu (default auto)
  --threads N       onnxruntime intra-op threads: 0 (default) lets onnxruntime choose, else 1..4 × cores (at most 64)
  --max-file-mb N   refuse image files over N MB (default 256); devices, FIFOs and folders are always refused
exit code: 0 every query scored, 1 some queries not scored (listed with the reason), 2 bad usage or input
(nothing written), 128 + signal when interrupted (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP; partial report written)`;

function parse(args: string[]) {
  return parseCommandArgs(args, {
    split: { type: 'string' }, limit: { type: 'string' }, batch: { type: 'string' }, model: { type: 'string' },
    out: { type: 'string' }, worst: { type: 'string' }, 'image-root': { type: 'string' }, format: { type: 'string' },
    provider: { type: 'string' }, threads: { type: 'string' }, 'max-file-mb': { type: 'string' },
  }, true);
}

/**
 * Refuses, before any compute, a report path that cannot be written: a directory, a missing or non-folder parent,
 * or no write permission. (Otherwise a whole run would be computed and then lost to a raw ENOENT.)
 */
export async function checkReportPath(file: string): Promise<void> {
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw new Error(`--out ${file} is a folder; give a file name for the JSON report`);
  const dir = path.dirname(file);
  const parent = await stat(dir).catch(() => undefined);
  if (!parent) throw new Error(`--out ${file}: the folder ${dir} does not exist (create it first)`);
  if (!parent.isDirectory()) throw new Error(`--out ${file}: ${dir} is not a folder`);
  try {
    await access(existing ? file : dir, fsConstants.W_OK);
  } catch {
    throw new Error(`--out ${file}: ${existing ? 'the file' : `the folder ${dir}`} is not writable`);
  }
}

/** Signals that stop the run and still write the partial report (a terminal closing sends SIGHUP, kill SIGTERM). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How many not-scored queries are printed one per line (all of them are in the report). */
const NOT_SCORED_LINES = 5;

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError(positionals.length ? 'expected one FILE' : 'missing FILE');
  const batch = intOption('batch', values.batch) ?? 8;
  if (batch < 1) throw new UsageError('--batch must be at least 1');
  const limit = intOption('limit', values.limit);
  const worst = intOption('worst', values.worst) ?? 20;
  const threads = threadsOption(values.threads);
  const maxFileBytes = maxFileBytesOption(values['max-file-mb']);
  if (values.format !== undefined && !isDatasetFormat(values.format)) {
    throw new UsageError(`--format must be one of ${DATASET_FORMATS.join(', ')}, got '${values.format}'`);
  }
  const outFile = path.resolve(values.out ?? 'amc-eval-report.json');
  await checkReportPath(outFile);

  const ds = await openDataset(positionals[0], { imageRoot: values['image-root'], format: values.format as never });
  let engine: InferenceEngine | undefined;
  const controller = new AbortController();
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(128 + (osConstants.signals[signal] ?? 2)); // second signal: leave now
    stopSignal = signal;
    io.err(`\ninterrupted (${signal}): finishing the current batch and writing the partial report (Ctrl-C again to quit at once)`);
    controller.abort();
  };
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  const tty = process.stderr.isTTY === true;
  try {
    engine = await InferenceEngine.open(resolveModelDir(values.model), {
      provider: providerOption(values.provider), threads, batchSize: batch, maxFileBytes,
    });
    if (engine.providerNote) io.err(`note: ${engine.providerNote}`);
    if (io.verbose && engine.providerDetail) io.err(`onnxruntime: ${engine.providerDetail}`);
    for (const w of engine.card.warnings) io.err(`note: ${w}`);
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
    await writeFile(outFile, reportJson(report));
    const failed = report.samples.filter((r) => r.error);
    for (const r of failed.slice(0, NOT_SCORED_LINES)) io.err(`not scored: ${r.error}`);
    if (failed.length > NOT_SCORED_LINES) io.err(`... and ${failed.length - NOT_SCORED_LINES} more not scored (listed in ${outFile})`);
    if (report.stoppedBy) io.err(`stopped: ${report.stoppedBy}`);
    await io.out(`${accuracyTable(reportAccuracyRows(report.accuracy))}\n` +
      `${report.summary}${report.samples.length < report.counts.queries ? ` (${report.counts.queries - report.samples.length} of ${report.counts.queries} not reached)` : ''}\n` +
      `${report.samples.length} queries in ${report.durationS.toFixed(1)} s (${report.samplesPerS.toFixed(1)} samples/s) with ${report.model.name} on ${report.model.provider}` +
      `${report.counts.skippedNoBox ? `; ${report.counts.skippedNoBox} without a box skipped` : ''}\n` +
      `${report.stoppedBy ? 'STOPPED by an error: partial ' : report.interrupted ? 'INTERRUPTED: partial ' : ''}report ${outFile}\n`);
    if (report.stoppedBy) return 2;
    if (report.interrupted) return 128 + (osConstants.signals[stopSignal ?? 'SIGINT'] ?? 2);
    return report.counts.notScored > 0 ? 1 : 0;
  } finally {
    for (const sig of STOP_SIGNALS) process.off(sig, onSignal);
    await engine?.dispose();
    await ds.close();
  }
}
