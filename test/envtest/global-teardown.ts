/**
 * Jest globalTeardown: stops the control plane that global-setup.ts started, leaving no processes
 * and no temporary files. It runs in the same process as the global setup.
 */
export { stopSharedControlPlane as default } from './global-setup.js';
