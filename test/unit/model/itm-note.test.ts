// Issue 13 item 5: the card's itm_trained decides whether an ITM score is shown anywhere; the figure heading and
// the card parser follow it.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { itmNote, parseModelCard } from '../../../src/model/card';
import { figureTitle } from '../../../src/model/figure';

const ROOT = path.join(__dirname, '..', '..', '..');
const bundledCard = JSON.parse(readFileSync(path.join(ROOT, 'models', 'amc-small-synthetic', 'model.json'), 'utf8')) as Record<string, unknown>;
const result = { score: -5.8, itmProbability: 0.003, point: { x: 10, y: 20 } };

describe('ITM scores only for models whose ITM head was trained', () => {
  it('the bundled model says its ITM head was not trained', () => {
    const card = parseModelCard(bundledCard, 'model.json');
    assert.equal(card.itmTrained, false);
    assert.equal(itmNote(card), 'ITM head not trained for this model — only the GradCAM is meaningful');
  });

  it('a card without itm_trained gets a note that says the card does not tell; true shows the score', () => {
    const { itm_trained: _drop, ...rest } = bundledCard;
    assert.match(itmNote(parseModelCard(rest, 'model.json'))!, /does not say whether the ITM head was trained/);
    assert.equal(itmNote(parseModelCard({ ...bundledCard, itm_trained: true }, 'model.json')), undefined);
    assert.throws(() => parseModelCard({ ...bundledCard, itm_trained: 'yes' }, 'model.json'), /itm_trained must be true or false, got "yes"/);
  });

  it('the explain figure heading drops the score and says why', () => {
    const hidden = figureTitle('a red circle', result, itmNote({ itmTrained: false }));
    assert.equal(hidden.length, 2);
    assert.doesNotMatch(hidden.join('\n'), /p=|ITM score/);
    assert.equal(hidden[1], 'ITM head not trained for this model — only the GradCAM is meaningful');
    assert.deepEqual(figureTitle('a red circle', result), ['"a red circle"  ·  ITM score -5.800 (p=0.003)  ·  point (10, 20)']);
  });
});
