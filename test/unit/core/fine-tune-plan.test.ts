// Issue 13: fine-tuning starts from the model in use (init default, folder name, GPU choices, the run summary), a
// worse model is never switched to silently (decideSwitch), and the model status-bar text (provider in plain words).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decideSwitch, describeDeltas, exportDirFor, freeFolderName, gpuChoices, heldOutFileFor, isTrainableFormat, modelFolderName,
  runSummaryLines, sourceCheckpointOf,
} from '../../../src/core/fineTunePlan';
import { fallbackReason, modelStatusView } from '../../../src/core/modelStatus';
import { splitDeltas } from '../../../src/shared/comparison';
import { resolveRun, trainerCommand } from '../../../src/tasks/definition';

const acc = (split: string, hits: number, total: number) => ({ split, hits, total, accuracy: total ? hits / total : NaN });

describe('fine-tune: switch only to a model that is not worse', () => {
  it('switches when no split is worse (equal counts as not worse)', () => {
    const d = decideSwitch(splitDeltas([acc('val', 80, 117), acc('all', 80, 117)], [acc('val', 80, 117), acc('all', 80, 117)]));
    assert.equal(d.kind, 'switch');
    const better = decideSwitch(splitDeltas([acc('testA', 50, 60), acc('testB', 40, 60), acc('all', 90, 120)], [acc('testA', 45, 60), acc('testB', 40, 60), acc('all', 85, 120)]));
    assert.equal(better.kind, 'switch');
  });

  it('asks when any split is worse, even if the total improved, naming the split', () => {
    const d = decideSwitch(splitDeltas([acc('testA', 58, 60), acc('testB', 39, 60), acc('all', 97, 120)], [acc('testA', 45, 60), acc('testB', 40, 60), acc('all', 85, 120)]));
    assert.equal(d.kind, 'ask');
    assert.ok(d.kind === 'ask');
    assert.deepEqual(d.worse.map((x) => x.split), ['testB']);
    assert.match(d.reason, /worse on testB/);
  });

  it('asks when a split could not be scored by one model', () => {
    const d = decideSwitch(splitDeltas([acc('val', 0, 0), acc('all', 0, 0)], [acc('val', 3, 10), acc('all', 3, 10)]));
    assert.equal(d.kind, 'ask');
    assert.ok(d.kind === 'ask' && /not scored on val/.test(d.reason));
  });

  it('compares hits when both scored the same queries (no rounding of accuracies)', () => {
    const d = decideSwitch(splitDeltas([acc('val', 79, 117), acc('all', 79, 117)], [acc('val', 80, 117), acc('all', 80, 117)]));
    assert.equal(d.kind, 'ask');
  });

  it('describes each split old → new with the delta in points', () => {
    const lines = describeDeltas(splitDeltas([acc('val', 72, 117)], [acc('val', 80, 117)]));
    assert.deepEqual(lines, ['val: 68.4 % → 61.5 % (−6.8 pts, 80/117 → 72/117)']);
  });
});

describe('fine-tune: where it starts and where the model goes', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'amc-ftplan-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the current model\'s checkpoint comes from the card, relative to its folder', async () => {
    fs.writeFileSync(path.join(dir, 'checkpoint.pth'), 'x');
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ name: 'm', source_checkpoint: { file: 'checkpoint.pth', sha256: 'ab' } }));
    assert.deepEqual(await sourceCheckpointOf(dir), { checkpoint: path.join(dir, 'checkpoint.pth'), sha256: 'ab' });
  });

  it('says why there is no checkpoint: none recorded, missing file, bad field', async () => {
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ name: 'm' }));
    assert.match((await sourceCheckpointOf(dir) as { none: string }).none, /records no source_checkpoint/);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ source_checkpoint: { file: 'gone.pth' } }));
    assert.match((await sourceCheckpointOf(dir) as { none: string }).none, /gone\.pth cannot be used/);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ source_checkpoint: 'x.pth' }));
    assert.match((await sourceCheckpointOf(dir) as { none: string }).none, /must be \{"file"/);
  });

  it('the bundled model records its shipped checkpoint', async () => {
    const bundled = path.resolve(__dirname, '../../../models/amc-small-synthetic');
    const r = await sourceCheckpointOf(bundled);
    assert.ok('checkpoint' in r, JSON.stringify(r));
    assert.equal(r.checkpoint, path.join(bundled, 'checkpoint.pth'));
    assert.match(r.sha256 ?? '', /^[0-9a-f]{64}$/);
  });

  it('init defaults to the current model\'s checkpoint; "" trains from scratch; a given file wins', () => {
    const ctx = { workspaceDir: '/ws', trainerRoot: '/ext/trainer', defaultGpus: 0, exists: () => true, currentCheckpoint: { checkpoint: '/models/m/checkpoint.pth' } };
    const byDefault = resolveRun({ type: 'amc', dataset: 'vg_train.json' }, ctx);
    assert.equal(byDefault.init, '/models/m/checkpoint.pth');
    assert.equal(byDefault.initSource, 'current-model');
    assert.ok(trainerCommand('py', byDefault, '/ext/trainer', {}).args.join(' ').includes('--init /models/m/checkpoint.pth'));
    const scratch = resolveRun({ type: 'amc', dataset: 'vg_train.json', init: '' }, ctx);
    assert.equal(scratch.init, undefined);
    assert.equal(scratch.initSource, 'scratch');
    assert.ok(!trainerCommand('py', scratch, '/ext/trainer', {}).args.includes('--init'));
    const given = resolveRun({ type: 'amc', dataset: 'vg_train.json', init: 'ckpt/a.pth' }, ctx);
    assert.equal(given.init, '/ws/ckpt/a.pth');
    assert.equal(given.initSource, 'given');
    const none = resolveRun({ type: 'amc', dataset: 'vg_train.json' }, { ...ctx, currentCheckpoint: { none: 'model.json records no source_checkpoint' } });
    assert.equal(none.initSource, 'scratch');
    assert.match(none.initNote ?? '', /records no source_checkpoint/);
  });

  it('skipBadSamples reaches the trainer as --skip_bad_samples', () => {
    const run = resolveRun({ type: 'amc', dataset: 'vg_train.json', skipBadSamples: true }, { workspaceDir: '/ws', trainerRoot: '/t', defaultGpus: 0, exists: () => false });
    const args = trainerCommand('py', run, '/t', {}).args;
    assert.deepEqual(args.slice(args.indexOf('--skip_bad_samples'), args.indexOf('--skip_bad_samples') + 2), ['--skip_bad_samples', 'true']);
  });

  it('the new model folder is named after the dataset and the date, beside the run\'s checkpoints', () => {
    const now = new Date(2026, 11, 3, 10, 12, 44);
    assert.equal(modelFolderName('/data/vg_train.json', now), 'vg_train-2026-12-03-1012');
    assert.equal(modelFolderName('/data/region descriptions.json', now), 'region_descriptions-2026-12-03-1012');
    fs.mkdirSync(path.join(dir, 'vg_train-2026-12-03-1012'));
    assert.equal(freeFolderName(dir, 'vg_train-2026-12-03-1012'), 'vg_train-2026-12-03-1012-2');
    assert.equal(exportDirFor(path.join(dir, 'last.pth'), '/data/vg_train.json', now), path.join(dir, 'vg_train-2026-12-03-1012-2'));
    assert.notEqual(path.basename(exportDirFor(path.join(dir, 'last.pth'), '/data/vg_train.json', now)), 'model');
  });

  it('the held-out file is the training file\'s val (else test) sibling', () => {
    const has = (set: string[]) => (f: string) => set.includes(f);
    assert.equal(heldOutFileFor('/d/vg_train.json', has(['/d/vg_val.json', '/d/vg_test.json'])), '/d/vg_val.json');
    assert.equal(heldOutFileFor('/d/vg_train.json', has(['/d/vg_test.json'])), '/d/vg_test.json');
    assert.equal(heldOutFileFor('/d/vg_train.json', has([])), undefined);
    assert.equal(heldOutFileFor('/d/region_descriptions.json', () => true), undefined);
  });

  it('offers only the formats the trainer reads, and GPU counts only when torch sees GPUs', () => {
    assert.ok(isTrainableFormat('amc-vg') && isTrainableFormat('vg-regions'));
    assert.ok(!isTrainableFormat('refcoco-albef') && !isTrainableFormat('flickr-infoground'));
    assert.deepEqual(gpuChoices(0, 0), [0]);
    assert.deepEqual(gpuChoices(0, 2), [0]);
    assert.deepEqual(gpuChoices(1, 0), [0, 1]);
    assert.deepEqual(gpuChoices(6, 2), [2, 0, 1, 4, 6]);
  });

  it('the summary lists every setting of the run', () => {
    const lines = runSummaryLines({ dataset: '/d/vg_train.json', format: 'amc-vg', startFrom: 'the current model', epochs: 1, gpus: 0,
      python: 'Python 3.11', output: '/ws/.amc/runs/x', modelFolder: '/ws/.amc/runs/x/vg_train-2026-12-03-1012', heldOut: '/d/vg_val.json', exportAndUse: true });
    assert.deepEqual(lines.map((l) => l.split(':')[0]), ['Training data', 'Start from', 'Epochs', 'Where', 'Checkpoints', 'New model folder', 'Judged on', 'Afterwards']);
    assert.match(lines[3], /^Where: CPU with Python 3\.11$/);
  });
});

describe('model status-bar item', () => {
  const info = { name: 'amc-small-synthetic', dir: '/m', provider: 'cpu' as const };
  it('shows name and provider; the tooltip says why the CPU runs in plain words', () => {
    const v = modelStatusView({ kind: 'loaded', info: { ...info, providerNote: 'CPU — CUDA provider not installed' }, providerSetting: 'auto' });
    assert.equal(v.text, '$(symbol-misc) amc-small-synthetic · CPU');
    assert.match(v.tooltip, /CUDA provider not installed: see README › GPU/);
    assert.doesNotMatch(v.tooltip, /OrtSessionOptions|shared library/);
    const cuda = modelStatusView({ kind: 'loaded', info: { ...info, provider: 'cuda' }, providerSetting: 'auto' });
    assert.equal(cuda.text, '$(symbol-misc) amc-small-synthetic · CUDA');
    assert.equal(fallbackReason({ ...info }, 'cpu'), 'CPU chosen by the setting amc.executionProvider');
    assert.match(fallbackReason({ ...info, providerNote: 'CPU — CUDA provider failed to start (details: --verbose / the AMC output channel)' }, 'auto') ?? '', /failed to start: the reason is in the AMC output channel/);
  });
});
