// A worker thread of the parallel report read (reportReader.ts readReportTable): reads one range of a report's
// rows into a table of its own and posts its columns back (transferred, not copied). Bundled to out/reportWorker.js.
import { parentPort, workerData } from 'node:worker_threads';
import { partsTransferList, readReportRange, type RangeTask } from './reportReader';

if (parentPort) {
  const port = parentPort;
  const run = (task: RangeTask): void => {
    void readReportRange(task).then((result) => {
      port.postMessage(result, result.ok ? partsTransferList(result.parts) : []);
    });
  };
  // The task comes with the worker or, from a worker started before the ranges were known, as the first message.
  if (workerData) run(workerData as RangeTask);
  else port.once('message', run);
}
