/**
 * One engine run from plain inputs: the request, the engine settings and the safety policy. The
 * safety gate is built here, inside the run, so the same function serves the operator's worker
 * process (./engine-worker-entry.ts), where only plain data crosses, and tests in-process.
 */
import { runRollback, type EngineOptions, type RollbackRequest, type RollbackResult } from '../git/engine.js';
import type { NetworkPolicy } from '../git/url-policy.js';
import { createSafetyGate } from '../safety/safety-gate.js';
import type { EngineHooks } from './ports.js';

/** The engine's settings that cross to a worker: plain data only. */
export interface EngineSettings extends Pick<EngineOptions, 'limits' | 'cacheMaxBytes'> {
  cacheDir: string;
  /** Required here, so no caller can fall back to the engine's permissive local default by omission. */
  policy: NetworkPolicy;
  /** Per git network call, milliseconds. */
  timeoutMs?: number;
}

/** Runs the rollback with the safety gate of `hooks.safety`; the verdict goes to `hooks.onVerdict`. */
export async function runGuardedRollback(request: RollbackRequest, settings: EngineSettings, hooks: EngineHooks = {}): Promise<RollbackResult> {
  const gate = createSafetyGate(hooks.safety);
  return runRollback(request, {
    cacheDir: settings.cacheDir,
    timeoutMs: settings.timeoutMs,
    policy: settings.policy,
    limits: settings.limits,
    cacheMaxBytes: settings.cacheMaxBytes,
    inspect: async (change) => {
      try {
        await gate.inspect(change);
      } finally {
        if (gate.verdict) hooks.onVerdict?.(gate.verdict);
      }
    },
    beforePublish: hooks.beforePublish,
    signal: hooks.signal,
  });
}
