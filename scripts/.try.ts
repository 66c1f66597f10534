import { openDataset } from '../src/core/datasets/index';
(async () => {
  for (const f of process.argv.slice(2)) {
    try {
      const ds = await openDataset(f);
      let err = '';
      await ds.complete.catch((e) => { err = e.message; });
      const page = await ds.page(0, 100).catch((e) => { console.log('PAGE FAIL', e.message); return []; });
      console.log(f.split('/').pop(), 'count', ds.count(), 'bad', ds.badEntries?.(), 'page', page.length, 'err', err);
      for (const p of ds.problems()) console.log('   ', p.code, p.location.entry, '|', p.message);
      await ds.close();
    } catch (e) { console.log(f.split('/').pop(), 'OPEN FAIL', (e as Error).message); }
  }
})();
