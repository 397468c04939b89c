// Builds gate.js into a WebAssembly component: node build.mjs OUT.wasm
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const { component } = await componentize({
  sourcePath: here('./gate.js'),
  witPath: here('../../../wit/0.2.0'),
  worldName: 'gate-plugin',
  // A gate that reads its request needs none of these.
  disableFeatures: ['random', 'clocks', 'http', 'fetch-event'],
});
await writeFile(process.argv[2] ?? 'package-json.wasm', component);
