// Everything checked before a fine-tuning run starts, each failure with a message that says what to do.
// No vscode import: the trust state and the interpreter candidates come in as data (unit-tested).
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ResolvedRun } from './definition';
import { chooseInterpreter, MIN_TORCH, type InterpreterCandidate, type PythonProbe, probePython, torchSupported } from './python';

export type PreflightCode =
  | 'untrusted' | 'no-python' | 'no-torch' | 'cuda-unavailable' | 'dataset-unreadable' | 'config-unreadable'
  | 'init-unreadable' | 'output-not-writable' | 'trainer-missing';

export interface PreflightProblem { code: PreflightCode; message: string; file?: string }

export type PreflightResult =
  | { ok: true; python: PythonProbe; probes: PythonProbe[] }
  | { ok: false; problems: PreflightProblem[]; probes: PythonProbe[] };

export interface PreflightInput {
  trusted: boolean;
  run: ResolvedRun;
  trainerRoot: string;
  candidates: InterpreterCandidate[];
  probe?: typeof probePython;
}

const INSTALL_TORCH = 'https://pytorch.org/get-started/locally/';

async function readableFile(file: string, what: string, code: PreflightCode): Promise<PreflightProblem | undefined> {
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) return { code, file, message: `${what} ${file} is not a file.` };
    if (st.size === 0) return { code, file, message: `${what} ${file} is empty (0 bytes).` };
    const fh = await fs.open(file, 'r');
    try { await fh.read(Buffer.alloc(1), 0, 1, 0); } finally { await fh.close(); }
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'EACCES' ? 'is not readable (permission denied)' : `cannot be read (${err.message})`;
    return { code, file, message: `${what} ${file} ${why}.` };
  }
}

/**
 * mkdir -p, one level at a time: Node's `mkdir(…, { recursive: true })` never settles (and spins a core)
 * for a path under /proc, so the recursion is done here, where every step either succeeds or throws.
 */
async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    try {
      const st = await fs.stat(cur);
      if (!st.isDirectory()) throw Object.assign(new Error(`${cur} is a file, not a folder`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.unshift(cur);
      const parent = path.dirname(cur);
      if (parent === cur) break;
      cur = parent;
    }
  }
  for (const d of missing) {
    try { await fs.mkdir(d); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; }
  }
}

/** Creates the folder if needed and writes (then removes) a probe file: the same thing a checkpoint needs. */
async function writableFolder(dir: string): Promise<PreflightProblem | undefined> {
  const probe = path.join(dir, `.amc-write-test-${process.pid}-${Date.now()}`);
  try {
    await makeFolders(dir);
    await fs.writeFile(probe, 'ok');
    await fs.rm(probe, { force: true });
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return {
      code: 'output-not-writable', file: dir,
      message: `The output folder ${dir} is not writable (${err.code ?? err.message}). Choose another "output" folder for the run.`,
    };
  }
}

function describeProbe(p: PythonProbe): string {
  const where = `${p.candidate.path}${p.executable && p.executable !== p.candidate.path ? ` (${p.executable})` : ''} [${p.candidate.source}]`;
  if (!p.runs) return `${where}: ${p.error}`;
  return `${where}: Python ${p.pythonVersion}, ${p.torchVersion ? `torch ${p.torchVersion}` : `no torch (${p.torchError})`}`;
}

function pythonProblem(probes: PythonProbe[], candidates: InterpreterCandidate[]): PreflightProblem {
  const running = probes.filter((p) => p.runs);
  const explicit = candidates.length === 1 && candidates[0].source === 'amc.pythonPath';
  if (running.length === 0) {
    return {
      code: 'no-python',
      message: explicit
        ? `amc.pythonPath is "${candidates[0].path}", which does not run (${probes[0]?.error}). Point amc.pythonPath at a Python 3 interpreter that has PyTorch ≥ ${MIN_TORCH.join('.')}.`
        : `No Python interpreter found (tried: ${probes.map(describeProbe).join('; ')}). Install Python 3 with PyTorch ≥ ${MIN_TORCH.join('.')} and set amc.pythonPath to it.`,
    };
  }
  const first = running[0];
  const old = running.find((p) => p.torchVersion && !torchSupported(p.torchVersion));
  const found = running.map(describeProbe).join('; ');
  if (old) {
    return {
      code: 'no-torch',
      message: `The trainer needs PyTorch ≥ ${MIN_TORCH.join('.')}, found torch ${old.torchVersion} in ${old.candidate.path} (Python ${old.pythonVersion}). `
        + `Upgrade it: "${old.executable ?? old.candidate.path}" -m pip install --upgrade torch (see ${INSTALL_TORCH}). Found: ${found}.`,
    };
  }
  return {
    code: 'no-torch',
    message: `Python ${first.pythonVersion} at ${first.executable ?? first.candidate.path} has no PyTorch (${first.torchError}). `
      + `Install it into that interpreter: "${first.executable ?? first.candidate.path}" -m pip install torch (see ${INSTALL_TORCH}), `
      + `or set amc.pythonPath to an interpreter that has torch ≥ ${MIN_TORCH.join('.')}. Found: ${found}.`,
  };
}

export async function preflight(input: PreflightInput): Promise<PreflightResult> {
  // Untrusted: stop before running anything, including the interpreter named by workspace settings.
  if (!input.trusted) {
    return {
      ok: false, probes: [],
      problems: [{
        code: 'untrusted',
        message: 'Fine-tuning is disabled in Restricted Mode: it runs Python code and settings from this workspace. '
          + 'Trust the workspace (command "Workspaces: Manage Workspace Trust") to fine-tune.',
      }],
    };
  }
  const { run } = input;
  const problems: PreflightProblem[] = [];
  const trainerPkg = path.join(input.trainerRoot, 'amc_trainer', '__main__.py');
  const missingTrainer = await readableFile(trainerPkg, 'The bundled trainer', 'trainer-missing');
  if (missingTrainer) problems.push({ ...missingTrainer, message: `${missingTrainer.message} The extension install is incomplete; reinstall it.` });
  const dataset = await readableFile(run.dataset, 'The dataset', 'dataset-unreadable');
  if (dataset) problems.push(dataset);
  if (run.config) {
    const config = await readableFile(run.config, 'The trainer config', 'config-unreadable');
    if (config) problems.push(config);
  }
  if (run.init) {
    const init = await readableFile(run.init, 'The initial checkpoint', 'init-unreadable');
    if (init) problems.push(init);
  }
  if (run.resume) {
    const last = await readableFile(path.join(run.output, 'last.pth'), 'The checkpoint to resume', 'init-unreadable');
    if (last) problems.push(last);
  }
  const out = await writableFolder(run.output);
  if (out) problems.push(out);

  const choice = await chooseInterpreter(input.candidates, input.probe);
  if (!choice.chosen) {
    problems.push(pythonProblem(choice.probes, input.candidates));
    return { ok: false, problems, probes: choice.probes };
  }
  const py = choice.chosen;
  if (run.gpus > 0) {
    const have = py.cudaAvailable ? py.cudaDevices ?? 0 : 0;
    if (have < run.gpus) {
      problems.push({
        code: 'cuda-unavailable',
        message: have === 0
          ? `${run.gpus} GPU(s) asked for, but torch ${py.torchVersion} in ${py.executable ?? py.candidate.path} sees no CUDA device `
            + `(CPU-only build, or no driver). Set "gpus": 0 (or amc.trainer.gpus = 0) to train on the CPU, or install a CUDA build of torch (${INSTALL_TORCH}).`
          : `${run.gpus} GPUs asked for, but torch sees only ${have}. Lower "gpus" to ${have}.`,
      });
    }
  }
  return problems.length ? { ok: false, problems, probes: choice.probes } : { ok: true, python: py, probes: choice.probes };
}
