/**
 * Daemons of a test control plane (etcd, kube-apiserver): each runs in its own process group with
 * its output in a log file, and is killed by group. Three nets keep a run from leaving daemons
 * behind when stop() is never reached:
 *  - each daemon is started through `setpriv --pdeathsig KILL`, so the kernel kills it when the
 *    Node process that spawned it dies, however it dies (even SIGKILL);
 *  - a process 'exit' handler kills the groups and removes the temporary directories;
 *  - SIGINT/SIGTERM/SIGHUP handlers do the same, then let the signal end the process.
 * Inside a Jest test file `process` is a sandboxed copy whose events never fire, so there only
 * the first net holds; in the global setup (the real process) all three do.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';

/** A daemon started by {@link spawnDaemon}. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  isRunning(): boolean;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

// setpriv (util-linux) sets the parent-death signal, then execs the daemon under the same pid.
const SETPRIV = '/usr/bin/setpriv';
const DIE_WITH_PARENT = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'KILL', '--'] : [];

const liveGroups = new Set<number>();
const dirsToRemove = new Set<string>();
let cleanupInstalled = false;

/**
 * Starts `binary args` in a new process group, appending stdout and stderr to `logPath`. `env`
 * adds to (or overrides) this process's environment (Flux's controllers read KUBECONFIG).
 */
export function spawnDaemon(name: string, binary: string, args: string[], logPath: string, env?: Record<string, string>): Daemon {
  installCleanupHandlers();
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    // detached: a process group of its own, so stop() can kill the group and Ctrl-C on the
    // terminal does not race our orderly shutdown.
    const [command, ...commandArgs] = [...DIE_WITH_PARENT, binary, ...args];
    child = spawn(command, commandArgs, { detached: true, stdio: ['ignore', logFd, logFd], env: env ? { ...process.env, ...env } : process.env });
  } finally {
    closeSync(logFd);
  }
  if (child.pid === undefined) throw new Error(`could not start ${name} (${binary})`);
  const pid = child.pid;
  liveGroups.add(pid);
  let running = true;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      liveGroups.delete(pid);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      running = false;
      liveGroups.delete(pid);
      resolve(`spawn error: ${err.message}`);
    });
  });
  // Never keep the test process alive just because a daemon runs.
  child.unref();
  return {
    name,
    pid,
    logPath,
    exited,
    isRunning: () => running,
    stop: (graceMs = 10_000) => stopGroup(pid, exited, graceMs),
  };
}

/** Registers a temporary directory for removal at process exit, in case stop() never runs. */
export function removeAtExit(dir: string): void {
  installCleanupHandlers();
  dirsToRemove.add(dir);
}

/** Cancels {@link removeAtExit} (the directory was already removed). */
export function forgetDirectory(dir: string): void {
  dirsToRemove.delete(dir);
}

/** The last `lines` lines of a daemon's log, for error messages. */
export function readLogTail(logPath: string, lines = 30): string {
  try {
    return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function stopGroup(pid: number, exited: Promise<unknown>, graceMs: number): Promise<void> {
  if (!liveGroups.has(pid)) return;
  signalGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
  // Anything the daemon forked itself is in the same group.
  signalGroup(pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

function killEverythingNow(): void {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  dirsToRemove.clear();
}

function installCleanupHandlers(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killEverythingNow);
  // A signal ends Node without 'exit' handlers: clean up, then let the signal do its default job.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killEverythingNow();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}
