import { UsageError, parseCommandLine } from '../../../src/cli/args.js';

const parse = (line: string, env: NodeJS.ProcessEnv = {}) => parseCommandLine(line.split(' '), env);

describe('parseCommandLine', () => {
  test('a revert of two commits with every option becomes one request', () => {
    const command = parse(
      'revert --repo https://git.example/fleet.git --branch prod --commit abc1234 --commit def5678 --mainline 1 --path apps/frontend --squash --reason x --incident INC-1 --author Ops_<ops@example.com> --dry-run --cache-dir /tmp/c --output json --timeout 5',
    );
    expect(command.request).toMatchObject({
      repository: { url: 'https://git.example/fleet.git', branch: 'prod' },
      action: { kind: 'revert', commits: ['abc1234', 'def5678'], mainline: 1, paths: ['apps/frontend'], squash: true },
      reason: 'x',
      incident: 'INC-1',
      author: { name: 'Ops_', email: 'ops@example.com' },
      dryRun: true,
    });
    expect(command).toMatchObject({ cacheDir: '/tmp/c', output: 'json', timeoutMs: 5000 });
  });

  test('--push-branch and --pull-request: the branch goes to the engine, the provider and token (GIT_PROVIDER_TOKEN first) to the CLI', () => {
    const command = parse('revert --repo https://git.example/o/fleet.git --commit abc1234 --push-branch rollback/inc-1 --pull-request github', {
      GIT_PROVIDER_TOKEN: 'api-token',
      GIT_PASSWORD: 'git-password',
    });
    expect(command.request.pushBranch).toBe('rollback/inc-1');
    expect(command.pullRequest).toEqual({ provider: 'github', apiUrl: undefined, token: 'api-token' });
    const fallback = parse('revert --repo r --commit abc1234 --push-branch b --pull-request gitea --pull-request-api https://git.example/api/v1', {
      GIT_PASSWORD: 'git-password',
    });
    expect(fallback.pullRequest).toEqual({ provider: 'gitea', apiUrl: 'https://git.example/api/v1', token: 'git-password' });
    expect(parse('revert --repo r --commit abc1234').pullRequest).toBeUndefined();
  });

  test.each([
    ['--pull-request github', { GIT_PROVIDER_TOKEN: 't' }, '--pull-request needs --push-branch'],
    ['--push-branch b --pull-request bitbucket', { GIT_PROVIDER_TOKEN: 't' }, '--pull-request must be one of github, gitlab, gitea'],
    ['--push-branch b --pull-request gitlab', {}, 'GIT_PROVIDER_TOKEN'],
    ['--push-branch b --pull-request gitlab --pull-request-api ftp://x', { GIT_PROVIDER_TOKEN: 't' }, 'must be an http(s) URL'],
    ['--push-branch b --pull-request-api https://x', {}, '--pull-request-api needs --pull-request'],
  ])('%s is refused: %s', (options, env, message) => {
    expect(() => parse(`revert --repo r --commit abc1234 ${options}`, env)).toThrow(message);
  });

  test('a range is split into from and to', () => {
    expect(parse('revert --repo r --range abc1234..def5678').request.action).toEqual({
      kind: 'revert',
      commits: undefined,
      range: { from: 'abc1234', to: 'def5678' },
      mainline: undefined,
      paths: undefined,
      squash: false,
    });
  });

  test('restore takes a revision and paths', () => {
    expect(parse('restore --repo r --revision abc1234 --path a --path b').request.action).toEqual({ kind: 'restore', revision: 'abc1234', paths: ['a', 'b'] });
  });

  test('credentials come from the environment: bearer wins over basic', () => {
    expect(parse('revert --repo r --commit abc1234', { GIT_USERNAME: 'u', GIT_PASSWORD: 'p' }).request.repository.credentials).toEqual({
      username: 'u',
      password: 'p',
    });
    expect(parse('revert --repo r --commit abc1234', { GIT_BEARER_TOKEN: 't', GIT_PASSWORD: 'p' }).request.repository.credentials).toEqual({
      bearerToken: 't',
    });
  });

  test.each([
    ['no command', ''],
    ['unknown command', 'rewind --repo r'],
    ['missing repo', 'revert --commit abc1234'],
    ['neither commit nor range', 'revert --repo r'],
    ['both commit and range', 'revert --repo r --commit a1b2c3d --range a..b'],
    ['malformed range', 'revert --repo r --range abc'],
    ['mainline zero', 'revert --repo r --commit abc1234 --mainline 0'],
    ['restore without path', 'restore --repo r --revision abc1234'],
    ['restore without revision', 'restore --repo r --path a'],
    ['restore with --commit', 'restore --repo r --revision abc1234 --path a --commit abc1234'],
    ['bad author', 'revert --repo r --commit abc1234 --author nobody'],
    ['bad output', 'revert --repo r --commit abc1234 --output yaml'],
    ['unknown option', 'revert --repo r --commit abc1234 --force'],
  ])('%s is a usage error', (_name, line) => {
    expect(() => parseCommandLine(line ? line.split(' ') : [], {})).toThrow(UsageError);
  });
});
