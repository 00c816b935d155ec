/** Typed errors cross the worker boundary as the same classes, so classify-error sorts them alike. */
import { classifyError } from '../../../src/controller/classify-error.js';
import { reviveError, serializeError } from '../../../src/controller/engine-protocol.js';
import * as gitErrors from '../../../src/git/errors.js';

const errorClasses = Object.entries(gitErrors).filter(
  ([, value]) => typeof value === 'function' && value.prototype instanceof Error && value !== gitErrors.GitRollbackError,
);

describe('errors across the engine worker boundary', () => {
  test.each(errorClasses)('%s comes back as the same class with the same code, data and classification', (name, errorClass) => {
    const original = Object.assign(Object.create((errorClass as { prototype: Error }).prototype) as Error, { message: `a ${name}` });
    Object.defineProperties(original, {
      code: { value: name, enumerable: true },
      data: { value: { url: 'https://git.example/fleet.git' }, enumerable: true },
      name: { value: name },
    });
    const revived = reviveError(JSON.parse(JSON.stringify(serializeError(original))));
    expect(revived).toBeInstanceOf(errorClass as unknown as new () => Error);
    expect(revived).toMatchObject({ name, message: `a ${name}`, code: name, data: { url: 'https://git.example/fleet.git' } });
    expect(classifyError(revived)).toEqual(classifyError(original));
  });

  test('an unknown error comes back as a plain Error with its message', () => {
    const revived = reviveError(serializeError(new TypeError('boom')));
    expect(revived).toMatchObject({ name: 'TypeError', message: 'boom' });
    expect(classifyError(revived).stalling).toBe(false);
  });
});
