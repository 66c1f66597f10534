// The whole test suite, in the order a failure is cheapest to see. Each stage is a real command; the
// run stops at nothing, so one failing stage still shows the others, and exits non-zero if any failed.
import { spawnSync } from 'node:child_process';

const python = process.env.AMC_PYTHON || '/usr/bin/python3';
const stages = [
  ['typecheck', 'npx', ['tsc', '--noEmit', '-p', '.']],
  // Style (`AMC_TEST_ONLY=lint` runs both): ESLint with eslint.config.mjs (typescript-eslint recommended, line
  // limit 140) over the TypeScript and the scripts; flake8 with trainer/.flake8 (line limit 120) over the trainer.
  ['lint (typescript: eslint)', 'npx', ['eslint', 'eslint.config.mjs', 'src', 'webview', 'test', 'scripts', 'bench']],
  ['lint (python: flake8)', python, ['-m', 'flake8', '--config', 'trainer/.flake8', 'trainer']],
  ['build', 'node', ['scripts/build.mjs']],
  ['unit (mocha, TypeScript core + model)', 'npx', ['mocha', '--require', 'tsx/cjs', 'test/unit/**/*.test.ts']],
  ['trainer (pytest, PyTorch)', python, ['-m', 'pytest', '-q', 'trainer/tests']],
  ['webview (Chromium, viewer UI against the real host session)', 'node', ['test/webview/run.mjs']],
  // Extension-host suite in a real VS Code (code-server + chromium; installs them into .vscode-test/ once).
  ['vscode (extension host, real VS Code)', 'node', ['scripts/vscode-test.mjs', '--no-build']],
  // `npm run vscode` as a contributor uses it: the workbench loads the extension from this checkout and the AMC
  // viewer opens on the sample workspace.
  ['open (`npm run vscode` shows the AMC viewer in code-server)', 'node', ['scripts/vscode-test.mjs', '--open', '--check', '--no-build']],
  // The packaged extension: build the .vsix, install it into a clean code-server, and run the suites that prove
  // it works as installed (activation, native runtime modules, Restricted Mode, the fine-tune task).
  ['vsix (installed package in a clean VS Code)', 'node', ['scripts/vscode-test.mjs', '--vsix', '--grep',
    '^(extension|runtime modules|restricted mode|AMC: Fine-tune in Restricted Mode|AMC: Fine-tune task runs 1 epoch)']],
];

const only = process.env.AMC_TEST_ONLY; // e.g. AMC_TEST_ONLY=unit to run one stage while developing
let passed = 0, failed = 0;
const failures = [];
for (const [name, cmd, args] of stages) {
  if (only && !name.startsWith(only)) continue;
  console.log(`\n=== ${name} ===`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', shell: false });
  const ok = r.status === 0;
  console.log(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (ok) passed++; else { failed++; failures.push(name); }
}
if (failures.length) console.log(`\nfailed stages: ${failures.join(', ')}`);
console.log(`stages: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
