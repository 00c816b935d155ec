/**
 * One convention for the operator's error classes (src/coded-error.ts): each extends CodedError,
 * directly or through GitRollbackError, declares `readonly code = '<its class name>' as const`,
 * and so reports its class name as `name` in logs and stack traces (git errors said "Error").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StallingError } from '../../src/controller/classify-error.js';
import { reviveError, serializeError } from '../../src/controller/engine-protocol.js';
import { CommitNotFoundError, TransferLimitExceededError } from '../../src/git/errors.js';
import { FlagError } from '../../src/cli/flags/parse-flags.js';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** Every `class X extends Y` in src whose base is an error class, with the class body's text. */
function errorClasses(): { file: string; name: string; base: string; abstract: boolean; body: string }[] {
  return sourceFiles(path.resolve('src'))
    .filter((file) => !file.endsWith('coded-error.ts'))
    .flatMap((file) => {
      const text = fs.readFileSync(file, 'utf8');
      return [...text.matchAll(/^export (abstract )?class (\w+) extends (\w*Error)\b[^{]*\{([\s\S]*?)^\}/gm)]
        .concat([...text.matchAll(/^(abstract )?class (\w+) extends (\w*Error)\b[^{]*\{([\s\S]*?)^\}/gm)])
        .map((m) => ({ file: path.relative(process.cwd(), file), abstract: Boolean(m[1]), name: m[2], base: m[3], body: m[4] }));
    });
}

describe('error classes', () => {
  const classes = errorClasses();

  test('are found (the scan works)', () => {
    expect(classes.map((c) => c.name)).toEqual(
      expect.arrayContaining(['GitRollbackError', 'CommitNotFoundError', 'FlagError', 'KubeApiError', 'EngineLimitExceededError']),
    );
  });

  test('extend CodedError (directly or through GitRollbackError), never Error itself', () => {
    const ours = new Set(['CodedError', ...classes.map((c) => c.name)]);
    expect(classes.filter((c) => !ours.has(c.base)).map((c) => `${c.file}: ${c.name} extends ${c.base}`)).toEqual([]);
  });

  test('declare their class name as a literal code, and set no name of their own', () => {
    const wrong = classes
      .filter((c) => !c.abstract)
      .filter((c) => !c.body.includes(`readonly code = '${c.name}' as const;`) || /\bname = /.test(c.body))
      .map((c) => `${c.file}: ${c.name}`);
    expect(wrong).toEqual([]);
  });

  test('report their class name, also after crossing from an engine worker', () => {
    const errors = [
      new CommitNotFoundError({ revision: 'abc' }),
      new TransferLimitExceededError({ url: 'https://x', what: 'pack', limit: 1 }),
      new FlagError('--x', 'bad'),
      new StallingError('InvalidSpec', 'no'),
    ];
    expect(errors.map((e) => [e.name, e.code])).toEqual(errors.map((e) => [e.constructor.name, e.constructor.name]));
    const revived = reviveError(serializeError(errors[0]));
    expect(revived).toBeInstanceOf(CommitNotFoundError);
    expect(revived.name).toBe('CommitNotFoundError');
    expect(String(revived)).toMatch(/^CommitNotFoundError: Commit abc was not found in the repository/);
  });
});
