// ctest clients_yarn: the yarn client through pat-sidecar --api=npm
// (lib/npm_matrix.mjs, docs/npm-clients.md).
import { defineClientTests } from './lib/npm_matrix.mjs';

defineClientTests('yarn');
