// Runs inside the extension host (the `extensionTestsPath` module scripts/vscode-test.mjs hands VS Code, with
// `--tests`): opens the files of the plan one after another as a user would (`vscode.openWith`), each time waiting
// until the viewer's webview has painted the first sample's GradCAM over its image, and writes what it measured to
// the plan's output file. Not a test: it asserts nothing about time. Built and driven by bench/open-gradcam/run.mjs.
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';

/** The part of what the `amc.viewerState` test-hook command returns that this bench reads (through the command only). */
interface ViewerState {
  kind: 'dataset' | 'single';
  file: string;
  count: number;
  firstShownMs?: number;
  /** What the webview last reported painted; `at`: when the host received the report. */
  lastShown?: { index: number | null; phrase: string; image: string; at?: number };
}

export interface OpenPlan {
  /** Where to write the measurements (JSON). */
  out: string;
  /** Seconds to let the window settle before the first open (extensions starting, the workbench restoring). */
  settleSeconds: number;
  opens: { label: string; file: string; viewType: string; imageRoot?: string }[];
}

export interface OpenMeasurement {
  label: string;
  file: string;
  /** 'cold': the first open in this window (extension not yet activated, no engine); 'warm': a later one. */
  start: 'cold' | 'warm';
  /** Wall ms from the openWith call to the host receiving the webview's "painted" report (ShownReport, after paint). */
  openToPaintedMs: number;
  /** Wall ms until `vscode.openWith` returned (the editor exists; the webview may still be booting). */
  openWithReturnedMs: number;
  /** The viewer's own firstShownMs (from its session's creation to the first report). */
  sessionFirstShownMs?: number;
  /** CPU ms of the whole extension-host process over the same interval (main thread, inference worker, libuv). */
  hostCpuMs: number;
  /** 1-minute load average before and after. */
  loadavg: [number, number];
  samples: number;
  image: string;
  phrase: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function viewerOf(file: string): Promise<ViewerState | undefined> {
  try {
    const states = (await vscode.commands.executeCommand<ViewerState[]>('amc.viewerState')) ?? [];
    return states.find((s) => s.kind === 'dataset' && s.file === file);
  } catch {
    return undefined; // the command exists once the extension has activated (the open activates it)
  }
}

async function measure(open: OpenPlan['opens'][number], start: OpenMeasurement['start']): Promise<OpenMeasurement> {
  const uri = vscode.Uri.file(open.file);
  const load0 = os.loadavg()[0];
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let openWithReturnedMs = NaN;
  const opened = Promise.resolve(vscode.commands.executeCommand('vscode.openWith', uri, open.viewType))
    .then(() => { openWithReturnedMs = Date.now() - t0; });
  const deadline = t0 + 600_000;
  let state: ViewerState | undefined;
  for (;;) {
    state = await viewerOf(open.file);
    // The first sample's map over its image: the webview reports it after the frame that painted it.
    if (state?.lastShown && state.lastShown.index === 0 && state.lastShown.image !== 'loading') break;
    if (Date.now() > deadline) {
      throw new Error(`${open.label}: no GradCAM painted within 600 s (last state ${JSON.stringify(state ?? null)})`);
    }
    await sleep(20);
  }
  const cpu = process.cpuUsage(cpu0);
  await opened;
  const shown = state.lastShown;
  if (shown.at === undefined) throw new Error('amc.viewerState gives no time for the painted report (lastShown.at)');
  return {
    label: open.label, file: open.file, start,
    openToPaintedMs: shown.at - t0, openWithReturnedMs, sessionFirstShownMs: state.firstShownMs,
    hostCpuMs: (cpu.user + cpu.system) / 1000, loadavg: [load0, os.loadavg()[0]],
    samples: state.count, image: shown.image, phrase: shown.phrase,
  };
}

/** Waits (up to 2 minutes) until the extension host used under 10 % of a core over a whole second. */
async function untilHostIdle(): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const c0 = process.cpuUsage();
    await sleep(1000);
    const c = process.cpuUsage(c0);
    if ((c.user + c.system) / 1000 < 100) return;
  }
}

export async function run(): Promise<void> {
  const plan = JSON.parse(process.env.AMC_BENCH_PLAN ?? 'null') as OpenPlan | null;
  if (!plan) throw new Error('AMC_BENCH_PLAN is not set (run bench/open-gradcam/run.mjs)');
  const roots = Object.fromEntries(plan.opens.filter((o) => o.imageRoot).map((o) => [o.file, o.imageRoot]));
  if (Object.keys(roots).length) {
    await vscode.workspace.getConfiguration('amc').update('imageRoots', roots, vscode.ConfigurationTarget.Global);
  }
  await sleep(plan.settleSeconds * 1000);
  await untilHostIdle();
  const results: OpenMeasurement[] = [];
  for (const [i, open] of plan.opens.entries()) {
    results.push(await measure(open, i === 0 ? 'cold' : 'warm'));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await untilHostIdle(); // the closed viewer's background work (indexing, the Problems lint) stops or ends
  }
  writeFileSync(plan.out, JSON.stringify(results, null, 1));
}
