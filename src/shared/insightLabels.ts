// What an Insights selection (one bar or bin of the panel) means, in words: the host's viewer state and the
// webview's filter line say the same thing. Pure: no DOM, no vscode.
import type { Insights } from '../core/insights';
import type { InsightSelection } from './protocol';

/** "word “triangle” · misses" — what the list is filtered to, in the panel's words. */
export function describeSelection(s: InsightSelection, insights?: Insights): string {
  const outcome = s.outcome === 'all' ? '' : ` · ${s.outcome}`;
  switch (s.breakdown) {
    case 'word': return `word “${s.key}”${outcome}`;
    case 'length': return `phrase length ${s.key}${outcome}`;
    case 'area': return `GT area ${s.key}${outcome}`;
    case 'boxes': return `${s.key} GT box(es)${outcome}`;
    case 'split': return `split ${s.key}${outcome}`;
    case 'missTarget': return `misses landing on ${s.key.replace('-', ' ')}`;
    case 'lMean': case 'lMax': {
      const edges = insights?.histograms[s.breakdown].edges ?? [];
      const b = Number(s.key);
      const range = edges.length > b + 1 ? ` ${edges[b].toFixed(3)}–${edges[b + 1].toFixed(3)}` : ` bin ${b + 1}`;
      return `${s.breakdown === 'lMean' ? 'L_mean' : 'L_max'}${range}${outcome}`;
    }
  }
}
