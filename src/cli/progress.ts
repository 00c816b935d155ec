/** Progress of long fetches on stderr, for a person at a terminal: at most two lines a second. */
let lastProgress = 0;

export function reportProgress(event: { phase: string; loaded: number; total?: number }): void {
  const now = Date.now();
  if (now - lastProgress < 500) return;
  lastProgress = now;
  const amount = event.total ? `${Math.round((100 * event.loaded) / event.total)}% (${event.loaded}/${event.total})` : `${event.loaded}`;
  process.stderr.write(`${event.phase}: ${amount}\n`);
}
