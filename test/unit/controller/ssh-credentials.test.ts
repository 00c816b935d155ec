import { StallingError } from '../../../src/controller/classify-error.js';
import { readSshCredentials } from '../../../src/controller/ssh-credentials.js';

describe('readSshCredentials (Flux Secret format)', () => {
  test('identity, known_hosts and password become the SSH credentials', () => {
    expect(readSshCredentials({ identity: 'KEY', known_hosts: 'HOSTS', password: 'PASS' }, 'ns/git')).toEqual({
      identity: 'KEY',
      knownHosts: 'HOSTS',
      password: 'PASS',
    });
  });

  test.each([
    ['a missing known_hosts stalls naming the key, never the values', { identity: 'SECRET-KEY' }, /has no known_hosts/],
    ['a missing identity stalls', { known_hosts: 'HOSTS', password: 'SECRET-PASS' }, /has no identity/],
    ['an HTTP-style Secret stalls naming both keys', { username: 'u', password: 'SECRET-PASS' }, /has no identity and known_hosts/],
  ])('%s', (_name, data, message) => {
    let error: unknown;
    try {
      readSshCredentials(data, 'ns/git');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StallingError);
    expect((error as StallingError).reason).toBe('InvalidSpec');
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/SECRET/);
  });
});
