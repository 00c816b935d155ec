/**
 * `history`'s command line and its table: flags checked with messages for the terminal, and a
 * table that fits a 100-column terminal whatever the repository's subjects, paths and trailers.
 */
import { formatHistoryText, parseHistoryCommand } from '../../../src/cli/history.js';
import { UsageError } from '../../../src/cli/args.js';
import type { DeployHistory, DeployHistoryCommit } from '../../../src/git/deploy-history.js';

const parse = (line: string, env: NodeJS.ProcessEnv = {}) => parseHistoryCommand(line.split(' '), env);

const SHA = (c: string) => c.repeat(40);

function commit(overrides: Partial<DeployHistoryCommit> = {}): DeployHistoryCommit {
  return {
    sha: SHA('a'),
    subject: 'Deploy web 1.5.0',
    author: 'Ada <ada@example.com>',
    date: '2025-01-02T11:04:05+01:00',
    paths: ['apps/web'],
    reverts: [],
    revertedBy: null,
    incident: null,
    rollbackRequest: null,
    ...overrides,
  };
}

function history(commits: DeployHistoryCommit[], extra: Partial<DeployHistory> = {}): DeployHistory {
  return { branch: 'main', head: SHA('f'), commits, walked: commits.length, ended: 'end', ...extra };
}

describe('parseHistoryCommand', () => {
  test('every flag reaches the options; credentials come from the environment as for revert', () => {
    const command = parse(
      '--repo https://git.example/fleet.git --branch prod --path apps/web --path infra --limit 50 --output json --cache-dir /tmp/c --timeout 5',
      { GIT_USERNAME: 'u', GIT_PASSWORD: 'p' },
    );
    expect(command).toMatchObject({
      output: 'json',
      options: {
        repository: { url: 'https://git.example/fleet.git', branch: 'prod', credentials: { username: 'u', password: 'p' } },
        paths: ['apps/web', 'infra'],
        limit: 50,
        cacheDir: '/tmp/c',
        timeoutMs: 5000,
      },
    });
  });

  test('defaults: main, 20 commits, text, the cache under XDG_CACHE_HOME', () => {
    expect(parse('--repo r.git', { XDG_CACHE_HOME: '/x' })).toMatchObject({
      output: 'text',
      options: { repository: { branch: 'main' }, limit: 20, paths: [], cacheDir: '/x/gitops-rollback', timeoutMs: 60_000 },
    });
  });

  test.each([
    ['--branch main', '--repo'],
    ['--repo r --limit 0', '--limit must be a whole number from 1 to 1000'],
    ['--repo r --limit 1001', '--limit must be a whole number from 1 to 1000'],
    ['--repo r --limit 2.5', '--limit must be a whole number'],
    ['--repo r --limit ten', '--limit must be a whole number'],
    ['--repo r --path ../secrets', '--path: Invalid path "../secrets"'],
    ['--repo r --path /etc', '--path: Invalid path "/etc"'],
    ['--repo r --output yaml', '--output must be text or json'],
    ['--repo r --timeout 0', '--timeout must be a positive number'],
    ['--repo r --branch a..b', 'not a valid branch name'],
    ['--repo r --commit abc1234', "Unknown option '--commit'"],
    ['--repo r extra', 'extra'],
  ])('%s is refused: %s', (line, message) => {
    expect(() => parse(line)).toThrow(UsageError);
    expect(() => parse(line)).toThrow(message);
  });
});

describe('formatHistoryText', () => {
  test('a row per commit, then its links and trailers on the line under it', () => {
    const text = formatHistoryText(
      history([
        commit({ sha: SHA('b'), subject: 'Revert "Deploy web 1.5.0"', reverts: [SHA('a')], incident: 'INC-1', rollbackRequest: 'ns/rb/uid' }),
        commit({ revertedBy: SHA('b') }),
      ]),
      { limit: 20 },
    );
    expect(text.split('\n')).toEqual([
      'main at ffffffffffff: 2 commits, newest first along first parents',
      '',
      'COMMIT        DATE (UTC)        SUBJECT                                 COMPONENTS',
      'bbbbbbbbbbbb  2025-01-02 10:04  Revert "Deploy web 1.5.0"               apps/web',
      '              reverts aaaaaaaaaaaa; incident INC-1; request ns/rb/uid',
      'aaaaaaaaaaaa  2025-01-02 10:04  Deploy web 1.5.0                        apps/web',
      '              reverted by bbbbbbbbbbbb',
      '',
    ]);
  });

  test('every line fits 100 columns, and control characters from the repository never reach the terminal', () => {
    const long = 'x'.repeat(500);
    const text = formatHistoryText(
      history([
        commit({
          subject: `\u001b[31mred\u001b[0m ${long}`,
          paths: ['.', 'apps/a-very-long-component-name', 'apps/b', 'clusters/production-eu-west-1', 'infra'],
          reverts: Array.from({ length: 30 }, (_, i) => SHA(String(i % 10))),
          revertedBy: SHA('c'),
          incident: `INC-${long}`,
          rollbackRequest: long,
        }),
      ]),
      { limit: 20, paths: [long, 'apps/web'] },
    );
    for (const line of text.split('\n')) expect([...line].length).toBeLessThanOrEqual(99);
    // eslint-disable-next-line no-control-regex -- the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    // Marks wrap onto more indented lines rather than being cut; only a mark too long for a line is cut.
    expect(text).toContain(`reverted by cccccccccccc\n${' '.repeat(14)}reverts 30 commits`);
    // The first component that fits, then how many more.
    expect(text).toMatch(/ {2}\. \+4$/m);
  });

  test('nothing found in a bounded walk says how far it looked', () => {
    const text = formatHistoryText(history([], { walked: 1020, ended: 'walk-bound' }), { limit: 20, paths: ['apps/none'] });
    expect(text).toBe(
      'main at ffffffffffff: 0 commits, touching apps/none, newest first along first parents\n\n' +
        'Searched the newest 1020 commits (--limit + 1000); older ones were not searched.\n',
    );
  });
});
