// Issue 17 item 1: the Fine-tune task gets the engine host it needs from src/extension.ts (registerFineTune), not
// from the editor provider's module, so the task provider and the viewer can change independently.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { importsOf, ROOT, tsFiles } from '../imports';

describe('src/tasks import rule (issue 17 item 1)', () => {
  it('no file in src/tasks imports src/editor/annotationEditor', () => {
    const files = tsFiles(path.join(ROOT, 'src', 'tasks'));
    assert.ok(files.length >= 5, 'src/tasks sources not found');
    const bad: string[] = [];
    for (const file of files) {
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const target = path.relative(ROOT, path.resolve(path.dirname(file), spec)).replace(/\.ts$/, '');
        if (target === path.join('src', 'editor', 'annotationEditor')) bad.push(`${path.relative(ROOT, file)}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });
});
