import { Writable } from 'node:stream';
import { createLogger, createReconcileLogger, REDACTED } from '../../../src/logging/logger.js';

/** Collects what a logger writes, one parsed JSON object per line. */
function captureLines(): { stream: Writable; raw: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const raw = (): string => chunks.join('');
  const lines = (): Record<string, unknown>[] =>
    raw()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, raw, lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line with a level label, time, msg and base fields', () => {
    const out = captureLines();
    const logger = createLogger({ destination: out.stream, base: { component: 'test' } });
    logger.info({ step: 'push' }, 'Pushed revert');
    const [line] = out.lines();
    expect(line).toMatchObject({ level: 'info', msg: 'Pushed revert', component: 'test', step: 'push' });
    expect(typeof line.time).toBe('string');
  });

  it('drops lines below the configured level', () => {
    const out = captureLines();
    const logger = createLogger({ destination: out.stream, level: 'warn' });
    logger.info('Hidden');
    logger.warn('Shown');
    expect(out.lines().map((l) => l.msg)).toEqual(['Shown']);
  });

  it('prints none of password, token and authorization values', () => {
    const out = captureLines();
    const logger = createLogger({ destination: out.stream });
    logger.info({ password: 'x', token: 'y', authorization: 'Bearer z' }, 'Top level');
    logger.info({ auth: { password: 'x', bearerToken: 'y' }, headers: { authorization: 'Bearer z' } }, 'Nested');
    logger.info({ request: { secretRef: { token: 'y' } }, creds: { identity: 'x' } }, 'Deeper');
    const raw = out.raw();
    expect(raw).not.toMatch(/"x"|"y"|Bearer z/);
    const [top, nested, deeper] = out.lines();
    expect(top).toMatchObject({ password: REDACTED, token: REDACTED, authorization: REDACTED });
    expect(nested).toMatchObject({ auth: { password: REDACTED, bearerToken: REDACTED }, headers: { authorization: REDACTED } });
    expect(deeper).toMatchObject({ request: { secretRef: { token: REDACTED } }, creds: { identity: REDACTED } });
  });

  it('redacts in child loggers too', () => {
    const out = captureLines();
    const child = createLogger({ destination: out.stream }).child({ controller: 'c' });
    child.info({ password: 'hunter2' }, 'Child');
    expect(out.raw()).not.toContain('hunter2');
  });
});

describe('createReconcileLogger', () => {
  it('binds controller, ns/name object and reconcileID', () => {
    const out = captureLines();
    const parent = createLogger({ destination: out.stream });
    const log = createReconcileLogger(parent, { controller: 'gitopsrollback', namespace: 'apps', name: 'undo', reconcileID: 'r1' });
    log.info('Reconciling');
    expect(out.lines()[0]).toMatchObject({ controller: 'gitopsrollback', object: 'apps/undo', reconcileID: 'r1', msg: 'Reconciling' });
  });

  it('uses the bare name for cluster-scoped objects', () => {
    const out = captureLines();
    const log = createReconcileLogger(createLogger({ destination: out.stream }), { controller: 'c', name: 'n' });
    log.info('x-free message');
    expect(out.lines()[0]).toMatchObject({ object: 'n' });
    expect(out.lines()[0]).not.toHaveProperty('reconcileID');
  });
});
