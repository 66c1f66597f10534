// `amc python`: which Python runs the bundled trainer, found the way the extension finds it (src/tasks/python.ts):
// $AMC_PYTHON alone when set (as the amc.pythonPath setting), else /usr/bin/python3, python3, python — the first
// whose `import torch` gives torch >= 1.13. The first python3 on PATH often has no torch, so README's trainer
// commands use `$(amc python --path)` instead of a bare `python`.
import { chooseInterpreter, interpreterCandidates, MIN_TORCH, type PythonProbe } from '../../tasks/python';
import type { CliIO } from '../command';
import { parseCommandArgs } from '../options';

export const summary = 'print the Python interpreter (with PyTorch) that runs the bundled trainer';
export const usage = `usage: amc python [--path]
  Finds the interpreter as the extension does: $AMC_PYTHON when set (like the amc.pythonPath setting), else the
  first of /usr/bin/python3, python3, python that imports torch >= ${MIN_TORCH.join('.')}. Exit 1 when none does.
  --path   print only the interpreter's path, e.g. "$(node out/cli.js python --path)" -m amc_trainer --help`;

/** Why a candidate was not chosen, in a few words. */
function whyNot(p: PythonProbe): string {
  if (!p.runs) return p.error ?? 'does not run';
  if (!p.torchVersion) return `no torch (${(p.torchError ?? 'import failed').split(':')[0]})`;
  return `torch ${p.torchVersion} is older than ${MIN_TORCH.join('.')}`;
}

export async function run(args: string[], io: CliIO): Promise<number> {
  const { values } = parseCommandArgs(args, { path: { type: 'boolean' } });
  const fromEnv = process.env.AMC_PYTHON ?? '';
  const { chosen, probes } = await chooseInterpreter(interpreterCandidates(fromEnv, undefined));
  if (!chosen) {
    const tried = probes.map((p) => `${p.candidate.path}: ${whyNot(p)}`).join('; ');
    io.err(`amc python: no Python with PyTorch >= ${MIN_TORCH.join('.')} found (${tried}); ` +
      `install torch for one of them or set AMC_PYTHON=/path/to/python`);
    return 1;
  }
  const exe = chosen.executable ?? chosen.candidate.path;
  if (values.path) {
    await io.out(`${exe}\n`);
    return 0;
  }
  const device = chosen.cudaAvailable ? `CUDA, ${chosen.cudaDevices} GPU${chosen.cudaDevices === 1 ? '' : 's'}` : 'CPU only';
  await io.out(`${exe}\nPython ${chosen.pythonVersion}, torch ${chosen.torchVersion} (${device}); ` +
    `chosen from ${fromEnv ? '$AMC_PYTHON' : chosen.candidate.path}\n`);
  if (io.verbose) {
    for (const p of probes.slice(0, -1)) io.err(`skipped ${p.candidate.path}: ${whyNot(p)}`);
  }
  return 0;
}
