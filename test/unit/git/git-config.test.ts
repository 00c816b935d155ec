/** The repository config against the git CLI: `git config --file` reads what we set, and the reverse. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { git, gitRaw, makeTempDir } from '../../helpers/git-cli.js';
import { readConfigValue, writeConfigValues } from '../../../src/git/git-config.js';

function bareRepo(): string {
  const dir = path.join(makeTempDir(), 'repo.git');
  git(path.dirname(dir), 'init', '-q', '--bare', dir);
  return dir;
}

/** `git config --get`, the value exactly as printed (without the newline). */
const gitConfig = (dir: string, key: string) => gitRaw(dir, 'config', '--file', path.join(dir, 'config'), '--get', key).replace(/\n$/, '');

describe('git config', () => {
  test.each([
    ['remote.origin.url', 'https://example.com/org/repo.git'],
    ['remote.origin.fetch', '+refs/heads/*:refs/remotes/origin/*'],
    ['gitopsrollback.depth', '100'],
    ['remote.My.Remote.url', 'a value with # and ; and "quotes" and \\ and \t tab'],
    ['section.name', ' leading and trailing spaces '],
  ])('%s set to a value is read back by git config --get, and by us', async (key, value) => {
    const dir = bareRepo();
    await writeConfigValues(fs, dir, { [key]: value });
    expect(gitConfig(dir, key)).toBe(value);
    expect(await readConfigValue(fs, dir, key)).toBe(value);
  });

  test('values git set are read back, case-insensitive in section and name only', async () => {
    const dir = bareRepo();
    git(dir, 'config', 'remote.origin.url', 'https://example.com/x');
    git(dir, 'config', 'GitOpsRollback.Depth', '50');
    git(dir, 'config', 'remote.Other.url', 'https://example.com/other');
    expect(await readConfigValue(fs, dir, 'remote.origin.url')).toBe('https://example.com/x');
    expect(await readConfigValue(fs, dir, 'gitopsrollback.depth')).toBe('50');
    expect(await readConfigValue(fs, dir, 'REMOTE.origin.URL')).toBe('https://example.com/x');
    expect(await readConfigValue(fs, dir, 'remote.other.url')).toBeUndefined();
    expect(await readConfigValue(fs, dir, 'core.bare')).toBe('true');
    expect(await readConfigValue(fs, dir, 'core.nothing')).toBeUndefined();
  });

  test('setting a key replaces its value in place, keeps the rest, and adds to an existing section', async () => {
    const dir = bareRepo();
    git(dir, 'config', 'remote.origin.url', 'https://old');
    git(dir, 'config', 'remote.origin.mirror', 'false');
    await writeConfigValues(fs, dir, { 'remote.origin.url': 'https://new', 'remote.origin.fetch': '+refs/heads/*:refs/remotes/origin/*', 'core.bare': 'true' });
    expect(gitConfig(dir, 'remote.origin.url')).toBe('https://new');
    expect(gitConfig(dir, 'remote.origin.mirror')).toBe('false');
    expect(gitConfig(dir, 'remote.origin.fetch')).toBe('+refs/heads/*:refs/remotes/origin/*');
    expect(git(dir, 'rev-parse', '--is-bare-repository')).toBe('true');
    const text = fs.readFileSync(path.join(dir, 'config'), 'utf8');
    expect(text.match(/\[remote "origin"\]/g)).toHaveLength(1);
    expect(text.endsWith('\n')).toBe(true);
    expect(fs.existsSync(path.join(dir, 'config.lock'))).toBe(false);
  });

  test('nothing is written when every key already has its value', async () => {
    const dir = bareRepo();
    await writeConfigValues(fs, dir, { 'gitopsrollback.depth': '50' });
    const before = fs.statSync(path.join(dir, 'config')).ino;
    await writeConfigValues(fs, dir, { 'gitopsrollback.depth': '50' });
    expect(fs.statSync(path.join(dir, 'config')).ino).toBe(before);
  });

  test('a key set twice reads as its last value, as git config --get', async () => {
    const dir = bareRepo();
    fs.appendFileSync(path.join(dir, 'config'), '[gitopsrollback]\n\tdepth = 10\n[gitopsrollback]\n\tdepth = 20 ; comment\n');
    expect(await readConfigValue(fs, dir, 'gitopsrollback.depth')).toBe(git(dir, 'config', '--get', 'gitopsrollback.depth'));
    await writeConfigValues(fs, dir, { 'gitopsrollback.depth': '40' });
    expect(git(dir, 'config', '--get-all', 'gitopsrollback.depth').split('\n')).toEqual(['10', '40']);
  });
});
