// Runs an ONNX graph with onnxruntime-node for the Python parity tests (there is no onnxruntime for Python).
// usage: node onnx_runner.mjs REQUEST.json
//   REQUEST = {"model": path, "inputs": {name: {"dtype": "float32"|"int64", "shape": [...], "file": raw LE path}},
//              "out_dir": path}
// Writes OUT_DIR/<output>.bin (raw little-endian) and prints {"outputs": {name: {dtype, shape, file}}, "ms": n}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const request = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const arrays = { float32: Float32Array, int64: BigInt64Array };
const feeds = {};
for (const [name, spec] of Object.entries(request.inputs)) {
  const Ctor = arrays[spec.dtype];
  if (!Ctor) throw new Error(`input ${name}: unsupported dtype ${spec.dtype}`);
  const buf = readFileSync(spec.file);
  const data = new Ctor(buf.buffer, buf.byteOffset, buf.byteLength / Ctor.BYTES_PER_ELEMENT);
  feeds[name] = new ort.Tensor(spec.dtype, data, spec.shape);
}
const session = await ort.InferenceSession.create(request.model, { executionProviders: ['cpu'] });
const t0 = performance.now();
const results = await session.run(feeds);
const ms = performance.now() - t0;
const outputs = {};
for (const [name, tensor] of Object.entries(results)) {
  const file = join(request.out_dir, `${name}.bin`);
  const data = tensor.data;
  writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  outputs[name] = { dtype: tensor.type, shape: tensor.dims, file };
}
process.stdout.write(JSON.stringify({ outputs, ms }) + '\n');
