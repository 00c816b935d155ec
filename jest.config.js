// Jest in ESM mode (the package is "type": "module"); ts-jest compiles TypeScript on the fly.
// Time budgets are scaled by TEST_TIME_SCALE (test/helpers/time-budget.ts, loaded with Node's type stripping).
import { DEFAULT_TEST_TIMEOUT_MS, scaled } from './test/helpers/time-budget.ts';

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
  // Sources import siblings as './x.js' (NodeNext); map them back to the .ts files.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: scaled(DEFAULT_TEST_TIMEOUT_MS),
  // One real etcd + kube-apiserver for the whole run (test/envtest); tests call connectToControlPlane().
  // The global setup also provides Flux's CRD manifests, so no hook builds anything.
  globalSetup: '<rootDir>/test/envtest/global-setup.ts',
  globalTeardown: '<rootDir>/test/envtest/global-teardown.ts',
};
