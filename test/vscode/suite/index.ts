// Mocha entry that VS Code loads as `extensionTestsPath` (code-server harness and @vscode/test-electron
// alike): runs every bundled *.test.js beside this file. Selection comes from the environment because the
// extension host inherits the server's: AMC_VSCODE_TEST_GREP (a regex) and AMC_VSCODE_TEST_TRUST — tests
// tagged "[untrusted]" run only in the harness's restricted-mode pass, every other test only outside it.
import * as path from 'node:path';
import * as fs from 'node:fs';
import Mocha from 'mocha';
import { format } from 'node:util';

export function run(): Promise<void> {
  const trust = process.env.AMC_VSCODE_TEST_TRUST ?? 'trusted';
  const userGrep = process.env.AMC_VSCODE_TEST_GREP;
  const only = userGrep ? `.*(?:${userGrep})` : '';
  const grep = trust === 'untrusted' ? `^(?=.*\\[untrusted\\])${only}` : `^(?!.*\\[untrusted\\])${only}`;
  // Colours off: the output goes through the workbench's log bridge, not a terminal.
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: false, timeout: 120_000, grep: new RegExp(grep) });
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.js')) files.push(p);
    }
  };
  walk(__dirname);
  files.sort();
  for (const f of files) mocha.addFile(f);
  // The harness receives the workbench's own log lines through the same bridge; a prefix on everything the
  // extension host prints during the run lets it show the suite's output and keep the rest as a log file.
  const restore = prefixConsole(SUITE_PREFIX);
  // Mocha's reporters captured console.log when mocha was loaded; point them at the prefixed one.
  // (The extension host may not let console methods be replaced, so the reporter gets its own function.)
  const log = console.log.bind(console);
  (Mocha.reporters.Base as unknown as { consoleLog: typeof console.log }).consoleLog = (...a: unknown[]) => log(prefixed(SUITE_PREFIX, a));
  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
        else if (runner.total === 0) reject(new Error(`no extension-host test matched ${grep} (trust: ${trust})`));
        else resolve();
      });
    } catch (e) {
      reject(e);
    }
  }).finally(restore);
}

export const SUITE_PREFIX = '[amc-suite] ';

function prefixed(prefix: string, a: unknown[]): string {
  const text = a.length && typeof a[0] === 'string' ? format(...a) : a.map((x) => format('%o', x)).join(' ');
  return text.split('\n').map((line) => prefix + line).join('\n');
}

function prefixConsole(prefix: string): () => void {
  const methods = ['log', 'info', 'warn', 'error'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    const original = console[m];
    try {
      console[m] = (...a: unknown[]) => original.call(console, prefixed(prefix, a));
    } catch { /* not replaceable here: only the reporter's lines are prefixed */ }
  }
  return () => methods.forEach((m, i) => { console[m] = saved[i]; });
}
