// pre_caption (docs/reference.md §3): hand-checked cases plus parity with the reference Python function run by /usr/bin/python3.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { preCaption } from '../../../src/core/text';

// The reference function, verbatim from ALBEF/AMC dataset/utils.py (docs/reference.md §3).
const PYTHON_PRE_CAPTION = `
import json, re, sys
def pre_caption(caption,max_words):
    caption = re.sub(
        r"([,.'!?\\"()*#:;~])",
        '',
        caption.lower(),
    ).replace('-', ' ').replace('/', ' ').replace('<person>', 'person')

    caption = re.sub(
        r"\\s{2,}",
        ' ',
        caption,
    )
    caption = caption.rstrip('\\n')
    caption = caption.strip(' ')

    #truncate caption
    caption_words = caption.split(' ')
    if len(caption_words)>max_words:
        caption = ' '.join(caption_words[:max_words])

    return caption
cases = json.load(sys.stdin)
json.dump([pre_caption(c, m) for c, m in cases], sys.stdout)
`;

describe('preCaption (docs/reference.md §3)', () => {
  it('lowercases, deletes ,.\'!?"()*#:;~ and turns - and / into spaces', () => {
    assert.equal(preCaption('A Man\'s "Red" Hat, (left)!?'), 'a mans red hat left');
    assert.equal(preCaption('black-and-white t-shirt/jeans'), 'black and white t shirt jeans');
    assert.equal(preCaption('#1: a*b;c~d.'), '1 abcd');
  });

  it("maps '<person>' to 'person' and keeps other brackets", () => {
    assert.equal(preCaption('<person> holds [a] {b} <cat>'), 'person holds [a] {b} <cat>');
  });

  it('collapses only runs of two or more whitespace characters, as the reference regex does', () => {
    assert.equal(preCaption('a  b\t\tc'), 'a b c');
    assert.equal(preCaption('a\tb'), 'a\tb'); // a single tab survives in the reference too
    assert.equal(preCaption('  padded - phrase  \n'), 'padded phrase');
  });

  it('keeps at most max_words words (default 50)', () => {
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`);
    assert.equal(preCaption(words.join(' ')).split(' ').length, 50);
    assert.equal(preCaption(words.join(' '), 30), words.slice(0, 30).join(' '));
    assert.equal(preCaption('one two three', 2), 'one two');
  });

  it('matches the reference Python pre_caption on tricky inputs', function () {
    this.timeout(20000);
    const cases: [string, number][] = [
      ['The clock is green in colour.', 50], ['Man\'s "red" hat - left/right, café!', 50], ['a  <person>   on\ta bench.', 50],
      ['  leading and trailing  ', 50], ['trailing newline\n', 50], ['\n\nnewlines\n\nonly\n', 50], ['x\u00a0\u00a0y', 50],
      ['a\u2003\u2003b', 50], ['a\u001c\u001cb', 50], ['a\u0085\u0085b', 50], ['- - -', 50], ['', 50], ['...', 50],
      ['ÉCOLE Straße İstanbul', 50], ['one two three four five', 3], ['one  two   three', 2], ['a - b', 1],
      ['<PERSON> and <person>', 50], ['tabs\t\t\tand\r\n\r\nreturns', 50], ['emoji 😀 -- ok', 50], ['a\u3000\u3000b\u2028\u2028c', 50],
    ];
    const r = spawnSync('/usr/bin/python3', ['-c', PYTHON_PRE_CAPTION], { input: JSON.stringify(cases), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(r.stdout) as string[];
    cases.forEach(([text, maxWords], i) => assert.equal(preCaption(text, maxWords), expected[i], `case ${JSON.stringify(text)}`));
  });
});
