// Jest in ESM mode (the package is "type": "module"); ts-jest compiles TypeScript on the fly.
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
  testTimeout: 60_000,
  // One real etcd + kube-apiserver for the whole run (test/envtest); tests call connectToControlPlane().
  globalSetup: '<rootDir>/test/envtest/global-setup.ts',
  globalTeardown: '<rootDir>/test/envtest/global-teardown.ts',
};
