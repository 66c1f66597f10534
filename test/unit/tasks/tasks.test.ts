// The fine-tune task's pure parts: definition → command line, the event protocol and progress text, error
// locations for the problem matcher, and the preflight with real interpreters (/usr/bin/python3 has torch
// here; `python3 -S` is the same interpreter without site-packages, so without torch).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { displayCommand, resolveRun, trainerCommand, validateDefinition, type AmcTaskDefinition } from '../../../src/tasks/definition';
import { describeEvent, errorFile, formatDuration, LineSplitter, parseEventLine, problemLine, RunProgress } from '../../../src/tasks/events';
import { preflight } from '../../../src/tasks/preflight';
import { chooseInterpreter, interpreterCandidates, probePython, torchSupported } from '../../../src/tasks/python';

const SYSTEM_PYTHON = process.env.AMC_PYTHON || '/usr/bin/python3';
const trainerRoot = path.resolve(__dirname, '../../../trainer');

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'amc-tasks-'));
}

/** A wrapper that runs the system Python with -S (no site-packages, so no torch): a real torch-less Python. */
function pythonWithoutTorch(dir: string): string {
  const p = path.join(dir, 'python-no-torch');
  fs.writeFileSync(p, `#!/bin/sh\nexec ${SYSTEM_PYTHON} -S "$@"\n`, { mode: 0o755 });
  return p;
}

describe('tasks/definition', () => {
  const def: AmcTaskDefinition = { type: 'amc', dataset: 'data/vg_train.json' };

  it('resolves paths against the workspace and fills defaults', () => {
    const run = resolveRun(def, { workspaceDir: '/ws', trainerRoot: '/ext/trainer', defaultGpus: 0, now: new Date(2026, 10, 27, 9, 5, 3), exists: () => true });
    assert.equal(run.dataset, '/ws/data/vg_train.json');
    assert.equal(run.imageRoot, '/ws/data');
    assert.equal(run.config, '/ext/trainer/configs/small-synthetic.json');
    assert.equal(run.output, '/ws/.amc/runs/20261127-090503');
    assert.equal(run.gpus, 0);
    const noBundled = resolveRun(def, { workspaceDir: '/ws', trainerRoot: '/ext/trainer', defaultGpus: 2, exists: () => false });
    assert.equal(noBundled.config, undefined);
    assert.equal(noBundled.gpus, 2);
  });

  it('builds the single-process command: CPU pinned, overrides as --key value', () => {
    const run = resolveRun({ ...def, epochs: 2, batchSize: 8, amcWeights: [0.3, 0.7], amcMargins: [0.1, 0.5], init: 'a.pth', resume: true,
      extraArgs: ['--log_every', '1'] }, { workspaceDir: '/ws', trainerRoot: '/t', defaultGpus: 0, exists: () => false });
    const spec = trainerCommand('/usr/bin/python3', run, '/t', { PATH: '/bin', PYTHONPATH: '/x' });
    assert.deepEqual(spec.args, ['-m', 'amc_trainer', 'train', '--data', '/ws/data/vg_train.json', '--image-root', '/ws/data', '--out', run.output,
      '--init', '/ws/a.pth', '--resume', '--epochs', '2', '--batch_size', '8', '--amc_weights', '0.3,0.7', '--amc_margins', '0.1,0.5',
      '--device', 'cpu', '--log_every', '1']);
    assert.equal(spec.cwd, '/t');
    assert.equal(spec.env.PYTHONPATH, `/t${path.delimiter}/x`);
    assert.equal(spec.env.PYTHONUNBUFFERED, '1');
  });

  it('launches torchrun with one process per GPU when gpus > 1', () => {
    const run = resolveRun({ ...def, gpus: 4 }, { workspaceDir: '/ws', trainerRoot: '/t', defaultGpus: 0, exists: () => true });
    const spec = trainerCommand('py', run, '/t', {});
    assert.deepEqual(spec.args.slice(0, 6), ['-m', 'amc_trainer.torchrun', '--standalone', '--nproc_per_node=4', '-m', 'amc_trainer']);
    assert.ok(spec.args.includes('cuda'));
    assert.match(displayCommand({ ...spec, args: ['--data', 'a b.json'] }), /^py --data 'a b\.json'$/);
  });

  it('names every bad key of a hand-written definition', () => {
    const errors = validateDefinition({ type: 'amc', epochs: 0, gpus: -1, amcWeights: [1], resume: 'yes', extraArgs: [1] });
    assert.equal(errors.length, 6, errors.join('\n'));
    assert.ok(errors.some((e) => e.includes('"dataset" is required')));
    assert.ok(errors.some((e) => e.includes('"epochs"')));
    assert.deepEqual(validateDefinition({ type: 'amc', dataset: 'x.json', epochs: 3, amcMargins: [0.1, 0.5] }), []);
  });
});

describe('tasks/events', () => {
  it('parses the trainer protocol and ignores everything else', () => {
    assert.deepEqual(parseEventLine('{"event": "epoch", "epoch": 0, "steps": 14, "loss": 3.49, "wall_s": 60.2}'),
      { event: 'epoch', epoch: 0, steps: 14, loss: 3.49, wall_s: 60.2 });
    assert.equal(parseEventLine('epoch 0 step 7/14 loss 3.56'), undefined);
    assert.equal(parseEventLine('{"event": "unknown"}'), undefined);
    assert.equal(parseEventLine('{"event": "step", '), undefined);
  });

  it('splits chunks into lines across chunk borders', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push('{"a":'), []);
    assert.deepEqual(s.push('1}\r\nsecond\nthi'), ['{"a":1}', 'second']);
    assert.deepEqual(s.flush(), ['thi']);
  });

  it('folds events into the progress line and the fraction done', () => {
    const p = new RunProgress(3, 0);
    p.apply({ event: 'step', epoch: 1, step: 40, loss: 1.23456, amc_mean: 0.1, amc_max: 0.3, eta_s: 130 });
    assert.equal(p.summary(), 'epoch 2/3 · step 40 · loss 1.2346 (L_mean 0.1000, L_max 0.3000) · ETA 2m 10s');
    assert.ok(Math.abs(p.fraction(130_000)! - 0.5) < 1e-9);
    p.apply({ event: 'checkpoint', path: '/o/last.pth', epoch: 1, step: 41, reason: 'signal' });
    p.apply({ event: 'done', status: 'interrupted', step: 41, epochs: 1, wall_s: 5, checkpoint: '/o/last.pth', signal: 'SIGTERM' });
    assert.equal(p.fraction(), 1);
    assert.equal(p.lastCheckpoint, '/o/last.pth');
    assert.equal(describeEvent(p.done!, p), 'stopped by SIGTERM at step 41; checkpoint /o/last.pth');
    assert.equal(p.seen.get('step'), 1);
    assert.equal(formatDuration(3725), '1h 02m');
  });

  it('puts an error on the file it names, else on the config or the dataset', () => {
    const dir = tmpDir();
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '[');
    const run = { dataset: '/d/train.json', config: '/c/cfg.json' };
    assert.equal(errorFile(`${bad}: not valid JSON (line 1)`, run, '/', fs.existsSync), bad);
    assert.equal(errorFile("config: bad value for 'epochs'", run, '/', fs.existsSync), '/c/cfg.json');
    assert.equal(errorFile('non-finite loss at epoch 0 step 3', run, '/', fs.existsSync), '/d/train.json');
    // The line package.json's $amc-trainer problem matcher reads (same regexp).
    const matcher = /^amc-trainer: (error|warning): (.+?):(\d+): (.*)$/;
    const m = matcher.exec(problemLine('error', '/d/train.json', 'two\nlines'));
    assert.deepEqual(m?.slice(1), ['error', '/d/train.json', '1', 'two lines']);
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));
    assert.equal(pkg.contributes.problemMatchers[0].pattern.regexp, matcher.source);
  });
});

describe('tasks/python + preflight (real interpreters)', function () {
  this.timeout(120_000);

  it('probes the system Python: version and torch', async () => {
    const p = await probePython({ path: SYSTEM_PYTHON, source: 'discovered' });
    assert.equal(p.runs, true, p.error);
    assert.match(p.pythonVersion!, /^3\.\d+/);
    assert.ok(p.torchVersion && torchSupported(p.torchVersion), `torch ${p.torchVersion}`);
  });

  it('skips interpreters without torch or that do not exist, and keeps an explicit setting alone', async () => {
    const dir = tmpDir();
    const noTorch = pythonWithoutTorch(dir);
    const choice = await chooseInterpreter([
      { path: path.join(dir, 'missing-python'), source: 'discovered' }, { path: noTorch, source: 'discovered' }, { path: SYSTEM_PYTHON, source: 'discovered' },
    ]);
    assert.equal(choice.chosen?.candidate.path, SYSTEM_PYTHON);
    assert.deepEqual(choice.probes.map((p) => [p.runs, !!p.torchVersion]), [[false, false], [true, false], [true, true]]);
    assert.deepEqual(interpreterCandidates('/opt/py', '/ext/py'), [{ path: '/opt/py', source: 'amc.pythonPath' }]);
    assert.deepEqual(interpreterCandidates('', '/usr/bin/python3', 'linux').map((c) => c.path), ['/usr/bin/python3', 'python3', 'python']);
    assert.equal(torchSupported('1.12.1'), false);
    assert.equal(torchSupported('2.4.0+cu121'), true);
  });

  it('reports each preflight problem with what to do', async () => {
    const dir = tmpDir();
    const dataset = path.join(dir, 'train.json');
    fs.writeFileSync(dataset, '[]');
    const base = resolveRun({ type: 'amc', dataset }, { workspaceDir: dir, trainerRoot, defaultGpus: 0 });

    const untrusted = await preflight({ trusted: false, run: base, trainerRoot, candidates: [{ path: SYSTEM_PYTHON, source: 'discovered' }] });
    assert.equal(untrusted.ok, false);
    assert.deepEqual(!untrusted.ok && untrusted.problems.map((p) => p.code), ['untrusted']);
    assert.equal(untrusted.probes.length, 0, 'no interpreter may run in an untrusted workspace');

    const noTorch = await preflight({ trusted: true, run: base, trainerRoot, candidates: [{ path: pythonWithoutTorch(dir), source: 'amc.pythonPath' }] });
    assert.ok(!noTorch.ok);
    const msg = noTorch.problems.find((p) => p.code === 'no-torch')?.message ?? '';
    assert.match(msg, /Python 3\.\d+\.\d+ at .* has no PyTorch \(ModuleNotFoundError: No module named 'torch'\)/);
    assert.match(msg, /-m pip install torch/);

    const noPython = await preflight({ trusted: true, run: base, trainerRoot, candidates: [{ path: path.join(dir, 'nope'), source: 'amc.pythonPath' }] });
    assert.ok(!noPython.ok);
    assert.match(noPython.problems[0].message, /amc\.pythonPath is ".*nope", which does not run \(not found\)/);

    fs.writeFileSync(path.join(dir, 'empty.pth'), '');
    const system = await probePython({ path: SYSTEM_PYTHON, source: 'discovered' });
    const everythingWrong = await preflight({
      trusted: true, trainerRoot, candidates: [{ path: SYSTEM_PYTHON, source: 'discovered' }],
      // /proc: Node's recursive mkdir never settles there, which the preflight must survive.
      run: { ...base, dataset: path.join(dir, 'missing.json'), output: '/proc/amc-cannot-write-here/run', gpus: 1 + (system.cudaDevices ?? 0),
        init: path.join(dir, 'empty.pth') },
    });
    assert.ok(!everythingWrong.ok);
    const codes = everythingWrong.problems.map((p) => p.code).sort();
    assert.deepEqual(codes, ['cuda-unavailable', 'dataset-unreadable', 'init-unreadable', 'output-not-writable']);
    const fileAsFolder = await preflight({ trusted: true, trainerRoot, candidates: [{ path: SYSTEM_PYTHON, source: 'discovered' }],
      run: { ...base, output: path.join(dataset, 'run') } });
    assert.deepEqual(!fileAsFolder.ok && fileAsFolder.problems.map((p) => p.code), ['output-not-writable']);
    assert.match(everythingWrong.problems.find((p) => p.code === 'dataset-unreadable')!.message, /missing\.json does not exist/);
    assert.match(everythingWrong.problems.find((p) => p.code === 'cuda-unavailable')!.message,
      system.cudaAvailable ? /sees only \d+/ : /sees no CUDA device.*"gpus": 0/);

    const ok = await preflight({ trusted: true, run: base, trainerRoot, candidates: [{ path: SYSTEM_PYTHON, source: 'discovered' }] });
    assert.equal(ok.ok, true, !ok.ok ? ok.problems.map((p) => p.message).join('\n') : '');
  });
});
