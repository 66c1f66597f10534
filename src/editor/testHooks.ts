// Test-only hooks of the product: the webview's `reportShown` readback (what it drew, with the metrics as shown)
// and the `amc.viewerState` command that returns it. They are on only while the extension runs under its tests,
// so the product contract a user's webview speaks has no test-only message. No vscode import (unit-tested).

/** vscode.ExtensionMode.Test (the enum's value; this module does not import vscode). */
const EXTENSION_MODE_TEST = 3;

/**
 * On in VS Code's test mode (the development extension under `extensionTestsPath`) or with AMC_TEST_HOOKS=1
 * (scripts/vscode-test.mjs sets it, so the installed .vsix pass has the hooks too).
 */
export function testHooksEnabled(extensionMode: number, env: NodeJS.ProcessEnv = process.env): boolean {
  return extensionMode === EXTENSION_MODE_TEST || env.AMC_TEST_HOOKS === '1';
}
