// Finding the Python that runs the bundled trainer, by asking each candidate what it has (never trusting
// PATH order blindly: on many machines the first `python3` is a pyenv/venv shim without torch).
// No vscode import: unit-tested in test/unit/tasks with real interpreters.
import { execFile } from 'node:child_process';

export interface InterpreterCandidate {
  path: string;
  source: 'amc.pythonPath' | 'Python extension' | 'discovered';
}

export interface PythonProbe {
  candidate: InterpreterCandidate;
  runs: boolean;             // the interpreter started and answered
  executable?: string;       // sys.executable (what `python3` resolved to)
  pythonVersion?: string;
  torchVersion?: string;     // undefined: torch cannot be imported
  torchError?: string;       // why not
  cudaAvailable?: boolean;
  cudaDevices?: number;
  error?: string;            // why it did not run
}

/** The minimum torch the trainer supports (issue 3: torch ≥ 1.13, also 2.x). */
export const MIN_TORCH: [number, number] = [1, 13];

const PROBE = [
  'import json, sys',
  'out = {"python": sys.version.split()[0], "executable": sys.executable}',
  'try:',
  '    import torch',
  '    out["torch"] = torch.__version__',
  '    out["cuda"] = bool(torch.cuda.is_available())',
  '    out["cuda_devices"] = int(torch.cuda.device_count()) if out["cuda"] else 0',
  'except Exception as e:',
  '    out["torch_error"] = type(e).__name__ + ": " + str(e)',
  'print("AMC_PROBE " + json.dumps(out))',
].join('\n');

export function probePython(candidate: InterpreterCandidate, timeoutMs = 60_000): Promise<PythonProbe> {
  return new Promise((resolve) => {
    execFile(candidate.path, ['-c', PROBE], { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('AMC_PROBE '));
      if (!line) {
        const why = err ? ((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : err.message.split('\n')[0]) : 'no answer';
        resolve({ candidate, runs: false, error: `${why}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}` });
        return;
      }
      const o = JSON.parse(line.slice('AMC_PROBE '.length)) as {
        python: string; executable: string; torch?: string; torch_error?: string; cuda?: boolean; cuda_devices?: number;
      };
      resolve({
        candidate, runs: true, executable: o.executable, pythonVersion: o.python, torchVersion: o.torch,
        torchError: o.torch_error, cudaAvailable: o.cuda, cudaDevices: o.cuda_devices,
      });
    });
  });
}

/** "2.1.0+cu121" → [2, 1]; undefined when it does not parse. */
export function torchMajorMinor(version: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function torchSupported(version: string): boolean {
  const v = torchMajorMinor(version);
  return !!v && (v[0] > MIN_TORCH[0] || (v[0] === MIN_TORCH[0] && v[1] >= MIN_TORCH[1]));
}

/**
 * Candidates in order: the setting alone when set (the user chose it: no silent fallback), else the Python
 * extension's interpreter, then the usual names. Duplicates are dropped.
 */
export function interpreterCandidates(
  setting: string, pythonExtension: string | undefined, platform = process.platform,
): InterpreterCandidate[] {
  if (setting) return [{ path: setting, source: 'amc.pythonPath' }];
  const list: InterpreterCandidate[] = [];
  if (pythonExtension) list.push({ path: pythonExtension, source: 'Python extension' });
  const names = platform === 'win32' ? ['py', 'python', 'python3'] : ['/usr/bin/python3', 'python3', 'python'];
  for (const n of names) list.push({ path: n, source: 'discovered' });
  return list.filter((c, i) => list.findIndex((d) => d.path === c.path) === i);
}

export interface InterpreterChoice {
  chosen?: PythonProbe;      // the first candidate with a supported torch
  probes: PythonProbe[];     // every candidate asked, in order
}

/** Probes candidates in order and stops at the first one whose torch is supported. */
export async function chooseInterpreter(candidates: InterpreterCandidate[], probe = probePython): Promise<InterpreterChoice> {
  const probes: PythonProbe[] = [];
  for (const c of candidates) {
    const p = await probe(c);
    probes.push(p);
    if (p.runs && p.torchVersion && torchSupported(p.torchVersion)) return { chosen: p, probes };
  }
  return { probes };
}
