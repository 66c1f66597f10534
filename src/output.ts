// The one output channel "AMC Grounding Lens" every feature logs to. Created by `activate` (which owns its
// disposal); features call `log(...)` instead of creating channels of their own.
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function createOutputChannel(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('AMC Grounding Lens', { log: true });
  return channel;
}

/** The channel; throws if called before activation, which would be a wiring bug. */
export function outputChannel(): vscode.LogOutputChannel {
  if (!channel) throw new Error('AMC Grounding Lens: output channel used before the extension was activated');
  return channel;
}

export function releaseOutputChannel(): void {
  channel = undefined;
}
