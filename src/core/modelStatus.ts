// The status-bar item "model and execution provider at a glance" (issue 13 item 6): its text and tooltip from
// what the engine reports. Plain words only: onnxruntime's raw loader message (providerDetail) goes to the
// output channel, never here.

export interface LoadedModelInfo {
  name: string;
  dir: string;
  provider: 'cuda' | 'cpu';
  /** The engine's plain-words note when CUDA was not used under 'auto' ("CPU — CUDA provider not installed"). */
  providerNote?: string;
}

export type ModelStatusState =
  | { kind: 'loaded'; info: LoadedModelInfo; providerSetting: string }
  | { kind: 'not-loaded'; name: string; dir: string }
  | { kind: 'failed'; dir: string; error: string };

export interface ModelStatusView { text: string; tooltip: string; }

/** Why the CPU runs, in plain words, with where to read more. */
export function fallbackReason(info: LoadedModelInfo, providerSetting: string): string | undefined {
  if (info.provider === 'cuda') return undefined;
  const note = info.providerNote ?? '';
  if (/not installed/i.test(note)) return 'CUDA provider not installed: see README › GPU';
  if (/failed to start/i.test(note)) return 'CUDA provider failed to start: the reason is in the AMC output channel; see README › GPU';
  if (note) return `${note.replace(/^CPU\s*[—-]\s*/, '')}: see README › GPU`;
  if (providerSetting === 'cpu') return 'CPU chosen by the setting amc.executionProvider';
  return undefined;
}

export function modelStatusView(state: ModelStatusState): ModelStatusView {
  if (state.kind === 'failed') {
    return { text: '$(error) AMC model failed', tooltip: `The model at ${state.dir} could not be loaded: ${state.error}\nDetails in the AMC output channel.` };
  }
  if (state.kind === 'not-loaded') {
    return { text: `$(symbol-misc) ${state.name}`, tooltip: `AMC model ${state.name} (${state.dir})\nExecution provider: chosen when the model first loads (the first explanation).` };
  }
  const { info } = state;
  const provider = info.provider === 'cuda' ? 'CUDA' : 'CPU';
  const reason = fallbackReason(info, state.providerSetting);
  return {
    text: `$(symbol-misc) ${info.name} · ${provider}`,
    tooltip: [`AMC model ${info.name} (${info.dir})`, `Execution provider: ${provider}`, ...(reason ? [reason] : [])].join('\n'),
  };
}
