// The --vscode-* variables VS Code sets on a webview's <html> for its three default themes (Light+ / Dark+ /
// High Contrast dark), limited to the ones the viewer and the toolkit components read. Values from VS Code's
// built-in theme colours.
export type ThemeName = 'light' | 'dark' | 'high-contrast';

const common = {
  '--vscode-font-family': '-apple-system, BlinkMacSystemFont, "Segoe WPC", "Segoe UI", "Ubuntu", "Droid Sans", sans-serif',
  '--vscode-font-size': '13px',
  '--vscode-font-weight': 'normal',
  '--vscode-editor-font-family': '"Droid Sans Mono", "monospace", monospace',
};

// One row a colour: the variable without its '--vscode-' prefix, then its value in light, dark and high contrast
// ('' where that theme does not set it).
const COLOURS: Array<[string, string, string, string]> = [
  ['foreground',                        '#616161',   '#cccccc',   '#ffffff'],
  ['editor-foreground',                 '#000000',   '#d4d4d4',   '#ffffff'],
  ['editor-background',                 '#ffffff',   '#1e1e1e',   '#000000'],
  ['descriptionForeground',             '#717171',   '#ccccccb3', '#ffffffb3'],
  ['errorForeground',                   '#a1260d',   '#f48771',   '#f48771'],
  ['focusBorder',                       '#0090f1',   '#007fd4',   '#f38518'],
  ['panel-border',                      '#80808059', '#80808059', '#6fc3df'],
  ['widget-border',                     '#d4d4d4',   '#303031',   '#6fc3df'],
  ['list-activeSelectionBackground',    '#0060c0',   '#04395e',   '#000000'],
  ['list-activeSelectionForeground',    '#ffffff',   '#ffffff',   '#ffffff'],
  ['list-hoverBackground',              '#e8e8e8',   '#2a2d2e',   '#000000'],
  ['list-focusOutline',                 '#0090f1',   '#007fd4',   '#f38518'],
  ['button-background',                 '#007acc',   '#0e639c',   '#000000'],
  ['button-foreground',                 '#ffffff',   '#ffffff',   '#ffffff'],
  ['button-hoverBackground',            '#0062a3',   '#1177bb',   '#000000'],
  ['button-secondaryBackground',        '#5f6a79',   '#3a3d41',   '#000000'],
  ['button-secondaryForeground',        '#ffffff',   '#ffffff',   '#ffffff'],
  ['button-secondaryHoverBackground',   '#4c5561',   '#45494e',   '#000000'],
  ['input-background',                  '#ffffff',   '#3c3c3c',   '#000000'],
  ['input-foreground',                  '#616161',   '#cccccc',   '#ffffff'],
  ['input-border',                      '#cecece',   '#3c3c3c',   '#6fc3df'],
  ['input-placeholderForeground',       '#767676',   '#a6a6a6',   '#ffffffb3'],
  ['dropdown-background',               '#ffffff',   '#3c3c3c',   '#000000'],
  ['dropdown-foreground',               '#616161',   '#f0f0f0',   '#ffffff'],
  ['dropdown-border',                   '#cecece',   '#3c3c3c',   '#6fc3df'],
  ['dropdown-listBackground',           '#ffffff',   '#252526',   '#000000'],
  ['checkbox-background',               '#ffffff',   '#3c3c3c',   '#000000'],
  ['checkbox-foreground',               '#616161',   '#f0f0f0',   '#ffffff'],
  ['checkbox-border',                   '#919191',   '#6b6b6b',   '#6fc3df'],
  ['badge-background',                  '#c4c4c4',   '#4d4d4d',   '#000000'],
  ['badge-foreground',                  '#333333',   '#ffffff',   '#ffffff'],
  ['progressBar-background',            '#0e70c0',   '#0e70c0',   '#6fc3df'],
  ['inputValidation-errorBackground',   '#f2dede',   '#5a1d1d',   '#000000'],
  ['inputValidation-errorBorder',       '#be1100',   '#be1100',   '#6fc3df'],
  ['inputValidation-infoBackground',    '#d6ecf2',   '#063b49',   '#000000'],
  ['inputValidation-infoBorder',        '#007acc',   '#007acc',   '#6fc3df'],
  ['inputValidation-warningBackground', '#f6f5d2',   '#352a05',   '#000000'],
  ['inputValidation-warningBorder',     '#b89500',   '#b89500',   '#6fc3df'],
  ['charts-green',                      '#388a34',   '#89d185',   '#89d185'],
  ['charts-yellow',                     '#bf8803',   '#cca700',   '#ffd700'],
  ['charts-red',                        '#e51400',   '#f14c4c',   '#f14c4c'],
  ['testing-iconPassed',                '#73c991',   '#73c991',   '#73c991'],
  ['settings-dropdownListBorder',       '#c8c8c8',   '#454545',   '#6fc3df'],
  ['contrastBorder',                    '',          '',          '#6fc3df'],
  ['contrastActiveBorder',              '',          '',          '#f38518'],
  ['button-border',                     '',          '',          '#6fc3df'],
];

const BODY_CLASS: Record<ThemeName, string> = { light: 'vscode-light', dark: 'vscode-dark', 'high-contrast': 'vscode-high-contrast' };
const COLUMN: Record<ThemeName, 1 | 2 | 3> = { light: 1, dark: 2, 'high-contrast': 3 };

function theme(name: ThemeName): { bodyClass: string; vars: Record<string, string> } {
  const vars: Record<string, string> = { ...common };
  for (const row of COLOURS) if (row[COLUMN[name]]) vars[`--vscode-${row[0]}`] = row[COLUMN[name]];
  return { bodyClass: BODY_CLASS[name], vars };
}

export const THEMES: Record<ThemeName, { bodyClass: string; vars: Record<string, string> }> = {
  light: theme('light'), dark: theme('dark'), 'high-contrast': theme('high-contrast'),
};
