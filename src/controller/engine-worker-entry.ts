/**
 * The engine worker process (forked by ./engine-worker.ts): receives one job as plain data — a
 * rollback run with the safety gate (./engine-run.ts), asking the operator's leave before each
 * push, the read of a commit range for an automated trigger, or a cache prefetch
 * (../git/warm-cache.ts) — sends back the result or the error as plain data, and exits.
 * Everything tenant-controlled
 * (fetch, pack parsing, SSH key decryption, host matching, merge, the safety gate's parsing)
 * happens here, on this process's own event loop and heap.
 */
import { readCommitRange } from '../git/read-range.js';
import { warmCache } from '../git/warm-cache.js';
import { runGuardedRollback } from './engine-run.js';
import { serializeError, type FromWorker, type ToWorker } from './engine-protocol.js';

/** Resolvers waiting for the operator's `publish-ok`. */
const waitingForPublish: (() => void)[] = [];

function send(message: FromWorker): Promise<void> {
  return new Promise((resolve, reject) => process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve())));
}

async function run(message: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  try {
    const result = await runGuardedRollback(message.request, message.settings, {
      safety: message.safety,
      onVerdict: (verdict) => void send({ type: 'verdict', verdict }),
      beforePublish: async () => {
        const allowed = new Promise<void>((resolve) => waitingForPublish.push(resolve));
        await send({ type: 'publish' });
        await allowed;
      },
    });
    await send({ type: 'result', result });
  } catch (error) {
    await send({ type: 'error', error: serializeError(error) });
  }
  // Sockets of the transports may linger; the run is over.
  process.exit(0);
}

async function readRange(message: Extract<ToWorker, { type: 'read-range' }>): Promise<void> {
  try {
    const { settings } = message;
    const commits = await readCommitRange(message.target, message.from, message.to, settings);
    await send({ type: 'range', commits });
  } catch (error) {
    await send({ type: 'error', error: serializeError(error) });
  }
  process.exit(0);
}

async function prefetch(message: Extract<ToWorker, { type: 'prefetch' }>): Promise<void> {
  try {
    const head = await warmCache(message.target, message.settings);
    await send({ type: 'prefetched', head });
  } catch (error) {
    await send({ type: 'error', error: serializeError(error) });
  }
  process.exit(0);
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'run') void run(message);
  else if (message.type === 'read-range') void readRange(message);
  else if (message.type === 'prefetch') void prefetch(message);
  else if (message.type === 'publish-ok') waitingForPublish.shift()?.();
});
// The operator went away: nothing to answer to.
process.on('disconnect', () => process.exit(1));
