import { RemoteError } from '../../../src/git/errors.js';
import { isSshUrl, parseSshUrl, quoteForShell } from '../../../src/git/ssh-url.js';

describe('parseSshUrl', () => {
  test.each([
    [
      'ssh://git@github.com/org/fleet.git',
      { user: 'git', host: 'github.com', port: 22, path: '/org/fleet.git', displayUrl: 'ssh://git@github.com/org/fleet.git' },
    ],
    ['ssh://deploy@git.example.com:2222/srv/repos/fleet.git', { user: 'deploy', host: 'git.example.com', port: 2222, path: '/srv/repos/fleet.git' }],
    ['ssh://git.example.com/fleet.git', { user: 'git', host: 'git.example.com', port: 22, path: '/fleet.git' }],
    ['ssh://git@git.example.com/~alice/fleet.git', { user: 'git', path: '~alice/fleet.git' }],
    ['ssh://git@[::1]:2222/fleet.git', { host: '::1', port: 2222, path: '/fleet.git' }],
    ['ssh://git@host/with%20space.git', { path: '/with space.git' }],
    ['git+ssh://git@host/fleet.git', { host: 'host', path: '/fleet.git' }],
    ['git@github.com:org/fleet.git', { user: 'git', host: 'github.com', port: 22, path: 'org/fleet.git', displayUrl: 'git@github.com:org/fleet.git' }],
    ['github.com:org/fleet.git', { user: 'git', host: 'github.com', path: 'org/fleet.git' }],
    ['deploy@host:/srv/fleet.git', { user: 'deploy', host: 'host', path: '/srv/fleet.git' }],
  ])('%s is parsed', (url, expected) => {
    expect(parseSshUrl(url)).toMatchObject(expected);
  });

  test('a password in the URL is dropped from the display URL and from errors', () => {
    expect(parseSshUrl('ssh://git:hunter2@host/fleet.git').displayUrl).toBe('ssh://git@host/fleet.git');
    let error: unknown;
    try {
      parseSshUrl('ssh://git:hunter2@/');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).not.toContain('hunter2');
  });
});

describe('isSshUrl', () => {
  test.each([
    ['ssh://git@host/fleet.git', true],
    ['git@github.com:org/fleet.git', true],
    ['https://github.com/org/fleet.git', false],
    ['http://127.0.0.1:8080/fleet.git', false],
    ['/srv/repos/fleet.git', false],
    ['./fleet.git', false],
    ['C:\\repos\\fleet.git', false],
  ])('%s -> %s', (url, expected) => {
    expect(isSshUrl(url)).toBe(expected);
  });
});

test('quoteForShell quotes like git, escaping single quotes', () => {
  expect(quoteForShell("/srv/it's.git")).toBe(`'/srv/it'\\''s.git'`);
});
