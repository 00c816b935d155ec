import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError, parseCommandLine } from '../../../src/cli/args.js';
import { makeTempDir } from '../../helpers/git-cli.js';

describe('SSH credentials for the CLI', () => {
  const dir = makeTempDir('cli-ssh-');
  const keyFile = path.join(dir, 'id_ed25519');
  const knownHostsFile = path.join(dir, 'known_hosts');
  fs.writeFileSync(keyFile, 'PRIVATE-KEY-TEXT\n');
  fs.writeFileSync(knownHostsFile, 'github.com ssh-ed25519 AAAA\n');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const parse = (repo: string, env: NodeJS.ProcessEnv) => parseCommandLine(['revert', '--repo', repo, '--commit', 'abc1234'], env);

  test.each([['ssh://git@github.com/acme/fleet.git'], ['git@github.com:acme/fleet.git']])(
    '%s reads the key, known_hosts and passphrase the environment names',
    (repo) => {
      const env = { GIT_SSH_KEY_FILE: keyFile, GIT_SSH_KNOWN_HOSTS_FILE: knownHostsFile, GIT_SSH_KEY_PASSPHRASE: 'pp', GIT_PASSWORD: 'ignored' };
      expect(parse(repo, env).request.repository.credentials).toEqual({
        identity: 'PRIVATE-KEY-TEXT\n',
        knownHosts: 'github.com ssh-ed25519 AAAA\n',
        password: 'pp',
      });
    },
  );

  test('known_hosts defaults to ~/.ssh/known_hosts', () => {
    fs.mkdirSync(path.join(dir, '.ssh'), { recursive: true });
    fs.copyFileSync(knownHostsFile, path.join(dir, '.ssh', 'known_hosts'));
    expect(parse('ssh://git@host/fleet.git', { GIT_SSH_KEY_FILE: keyFile, HOME: dir }).request.repository.credentials?.knownHosts).toContain('github.com');
  });

  test.each([
    ['no GIT_SSH_KEY_FILE is a usage error', {}, /GIT_SSH_KEY_FILE/],
    ['no known_hosts anywhere is a usage error', { GIT_SSH_KEY_FILE: keyFile, HOME: '/nonexistent' }, /GIT_SSH_KNOWN_HOSTS_FILE/],
    [
      'an unreadable key file is a usage error naming the file, not its contents',
      { GIT_SSH_KEY_FILE: path.join(dir, 'missing'), GIT_SSH_KNOWN_HOSTS_FILE: knownHostsFile },
      /Cannot read GIT_SSH_KEY_FILE .*missing: ENOENT/,
    ],
  ])('%s', (_name, env, message) => {
    expect(() => parse('ssh://git@host/fleet.git', env)).toThrow(UsageError);
    expect(() => parse('ssh://git@host/fleet.git', env)).toThrow(message);
  });
});
