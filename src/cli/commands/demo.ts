// `amc demo` (`npm run demo`): the main job on a fresh clone. Evaluates the bundled synthetic grounding set
// (Flickr-style test split and RefCOCO+-style testA/testB) with the bundled default model and writes an HTML
// report — per-sample image | box mask | GradCAM side by side, metrics, accuracy per split — and prints its path.
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { openDataset } from '../../core/datasets/index';
import { InferenceEngine } from '../../model/engine';
import { accuracyTable, evaluateDataset, progressLine } from '../../model/evaluate';
import { maxFileBytesOption, parseCommandArgs } from '../options';
import { packageRoot, resolveModelDir } from '../../model/locate';
import { PanelWriter, renderHtml, reportAccuracyRows, reportJson, type ReportSection } from '../report';
import { intOption, type CliIO } from '../command';
import { providerOption } from './explain';

/** The bundled sets the demo scores, relative to samples/synthetic (see its README). */
export const DEMO_SETS: { title: string; file: string }[] = [
  { title: 'Flickr30k-style phrases (info-ground JSON), test split', file: 'flickr30k/bounding_boxes_test.json' },
  { title: 'RefCOCO+-style referring expressions (ALBEF JSON), testA / testB', file: 'refcoco+_test.json' },
];

export const summary = 'evaluate the bundled synthetic set with the bundled model; writes an HTML report';
export const usage = `usage: amc demo [--out DIR] [--model DIR] [--samples DIR] [--limit N] [--provider auto|cuda|cpu] [--max-file-mb N]
  --out DIR      report folder (default: out/demo in the package); index.html + img/ + report-*.json
  --model DIR    model folder (default: $AMC_MODEL, else models/amc-small-synthetic)
  --samples DIR  the synthetic set (default: samples/synthetic in the package)
  --limit N      at most N queries per set
  --max-file-mb N  refuse image files over N MB (default 256); devices, FIFOs and folders are always refused
exit code: 0 every query scored, 1 some queries not scored (listed with the reason), 2 bad usage or input`;

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(args, {
    out: { type: 'string' }, model: { type: 'string' }, samples: { type: 'string' }, limit: { type: 'string' }, provider: { type: 'string' },
    'max-file-mb': { type: 'string' },
  });
  const root = packageRoot();
  const samplesDir = path.resolve(values.samples ?? path.join(root, 'samples', 'synthetic'));
  const outDir = path.resolve(values.out ?? path.join(root, 'out', 'demo'));
  const modelDir = resolveModelDir(values.model);
  if (!existsSync(path.join(modelDir, 'model.json'))) {
    throw new Error(`no model at ${modelDir} (the default model is models/amc-small-synthetic; pass --model DIR for another exported model)`);
  }
  for (const s of DEMO_SETS) {
    if (!existsSync(path.join(samplesDir, s.file))) throw new Error(`${path.join(samplesDir, s.file)}: bundled sample file missing (regenerate: see samples/synthetic/README.md)`);
  }
  const limit = intOption('limit', values.limit);
  const maxFileBytes = maxFileBytesOption(values['max-file-mb']);

  await rm(path.join(outDir, 'img'), { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const engine = await InferenceEngine.open(modelDir, { provider: providerOption(values.provider), maxFileBytes });
  const sections: ReportSection[] = [];
  let notScored = 0;
  try {
    io.err(`model ${engine.card.name} on ${engine.providerNote ?? engine.provider}`);
    if (io.verbose && engine.providerDetail) io.err(`onnxruntime: ${engine.providerDetail}`);
    for (const w of engine.card.warnings) io.err(`note: ${w}`);
    for (const [i, set] of DEMO_SETS.entries()) {
      const ds = await openDataset(path.join(samplesDir, set.file));
      try {
        const writer = new PanelWriter(outDir, path.join(outDir, 'img'), `set${i}`, maxFileBytes);
        io.err(`scoring ${path.relative(process.cwd(), ds.file) || ds.file}`);
        const report = await evaluateDataset(engine, ds, {
          limit, onSample: (row, sample, result) => writer.add(row, sample, result),
          onProgress: (p) => { if (process.stderr.isTTY) process.stderr.write(`\r${progressLine(p)}`); },
        });
        if (process.stderr.isTTY) process.stderr.write('\n');
        await writeFile(path.join(outDir, `report-${i}.json`), reportJson(report));
        sections.push({ title: set.title, report, panels: writer.panels });
        notScored += report.counts.notScored;
        for (const r of report.samples.filter((row) => row.error).slice(0, 5)) io.err(`not scored: ${r.error}`);
        await io.out(`${set.title}\n${accuracyTable(reportAccuracyRows(report.accuracy))}\n${report.summary}\n\n`);
      } finally {
        await ds.close();
      }
    }
    const html = path.join(outDir, 'index.html');
    await writeFile(html, renderHtml(`AMC Grounding Lens — ${engine.card.name} on the synthetic grounding set`, sections, engine.card.raw));
    await io.out(`report ${html}\n`);
    return notScored > 0 ? 1 : 0;
  } finally {
    await engine.dispose();
  }
}
