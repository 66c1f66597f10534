// The ONLY module that knows about the component library. @vscode/webview-ui-toolkit is archived upstream
// (2025-01); moving to @vscode-elements/elements means rewriting this file alone: the rest of the webview
// uses the small typed controls returned here and never touches tag names or component properties.
import {
  provideVSCodeDesignSystem, vsCodeBadge, vsCodeButton, vsCodeCheckbox, vsCodeDivider, vsCodeDropdown, vsCodeOption,
  vsCodeProgressRing, vsCodeTextField,
} from '@vscode/webview-ui-toolkit';

let defined = false;
export function defineComponents(): void {
  if (defined) return;
  defined = true;
  provideVSCodeDesignSystem().register(
    vsCodeButton(), vsCodeCheckbox(), vsCodeDropdown(), vsCodeOption(), vsCodeTextField(), vsCodeProgressRing(),
    vsCodeBadge(), vsCodeDivider(),
  );
}

/**
 * The toolkit's text field, checkbox and progress ring overwrite aria-label when they connect ("Text field",
 * "Checkbox", "Loading"): keep ours.
 */
function pinAriaLabel(el: HTMLElement, label: string): void {
  el.setAttribute('aria-label', label);
  new MutationObserver(() => { if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label); })
    .observe(el, { attributes: true, attributeFilter: ['aria-label'] });
}

export interface ButtonOptions { appearance?: 'primary' | 'secondary' | 'icon'; ariaLabel?: string; title?: string; }

export interface Button { readonly element: HTMLElement; setLabel(text: string): void; setDisabled(disabled: boolean): void; }

export function button(label: string, onClick: () => void, opts: ButtonOptions = {}): Button {
  const el = document.createElement('vscode-button');
  el.setAttribute('appearance', opts.appearance ?? 'secondary');
  el.textContent = label;
  if (opts.ariaLabel) el.setAttribute('aria-label', opts.ariaLabel);
  if (opts.title) el.title = opts.title;
  el.addEventListener('click', () => { if (!el.hasAttribute('disabled')) onClick(); });
  return {
    element: el,
    setLabel: (text) => { el.textContent = text; },
    setDisabled: (d) => { el.toggleAttribute('disabled', d); },
  };
}

export interface TextInput {
  readonly element: HTMLElement;
  value: string;
  focus(): void;
  onInput(listener: (value: string) => void): void;
  onEnter(listener: (value: string) => void): void;
  setInvalid(message: string | null): void;
}

export function textField(opts: { ariaLabel: string; placeholder?: string; value?: string; size?: number }): TextInput {
  const el = document.createElement('vscode-text-field') as HTMLElement & { value: string };
  pinAriaLabel(el, opts.ariaLabel);
  if (opts.placeholder) el.setAttribute('placeholder', opts.placeholder);
  if (opts.size) el.setAttribute('size', String(opts.size));
  if (opts.value) el.setAttribute('value', opts.value);
  return {
    element: el,
    get value() { return el.value ?? ''; },
    set value(v: string) { el.value = v; },
    focus: () => el.focus(),
    onInput: (listener) => el.addEventListener('input', () => listener(el.value ?? '')),
    onEnter: (listener) => el.addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') listener(el.value ?? ''); }),
    setInvalid: (message) => {
      if (message) { el.setAttribute('aria-invalid', 'true'); el.title = message; } else { el.removeAttribute('aria-invalid'); el.title = ''; }
    },
  };
}

export interface Select<T extends string> {
  readonly element: HTMLElement; value: T; setOptions(options: ReadonlyArray<{ value: T; label: string }>): void;
}

export function dropdown<T extends string>(
  options: ReadonlyArray<{ value: T; label: string }>, opts: { ariaLabel: string; value: T; onChange: (v: T) => void },
): Select<T> {
  const el = document.createElement('vscode-dropdown') as HTMLElement & { value: string };
  el.setAttribute('aria-label', opts.ariaLabel);
  const fill = (list: ReadonlyArray<{ value: T; label: string }>, selected: string) => {
    el.replaceChildren(...list.map((o) => {
      const opt = document.createElement('vscode-option');
      opt.setAttribute('value', o.value);
      opt.textContent = o.label;
      if (o.value === selected) opt.setAttribute('selected', '');
      return opt;
    }));
    el.value = selected;
  };
  fill(options, opts.value);
  el.addEventListener('change', () => opts.onChange(el.value as T));
  return {
    element: el,
    get value() { return el.value as T; },
    set value(v: T) { el.value = v; },
    setOptions: (list) => fill(list, list.some((o) => o.value === el.value) ? el.value : (list[0]?.value ?? '')),
  };
}

export interface Toggle { readonly element: HTMLElement; checked: boolean; }

export function checkbox(label: string, opts: { checked?: boolean; onChange: (checked: boolean) => void }): Toggle {
  const el = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
  el.textContent = label;
  pinAriaLabel(el, label);
  if (opts.checked) el.setAttribute('checked', '');
  el.addEventListener('change', () => opts.onChange(!!el.checked));
  return {
    element: el,
    get checked() { return !!el.checked; },
    set checked(v: boolean) { el.checked = v; },
  };
}

/** An indeterminate progress indicator with an accessible label. */
export function progressRing(label: string): HTMLElement {
  const el = document.createElement('vscode-progress-ring');
  pinAriaLabel(el, label);
  return el;
}

export function badge(text: string): HTMLElement & { setText(t: string): void } {
  const el = document.createElement('vscode-badge') as unknown as HTMLElement & { setText(t: string): void };
  el.textContent = text;
  el.setText = (t: string) => { el.textContent = t; };
  return el;
}

export function divider(): HTMLElement {
  const el = document.createElement('vscode-divider');
  el.setAttribute('role', 'separator');
  return el;
}
