import { GitHostNotAllowedError, InvalidRepositoryUrlError } from '../../../src/git/errors.js';
import { checkRepositoryUrl, createGuardedLookup, isInternalAddress, LOCAL_NETWORK_POLICY, STRICT_NETWORK_POLICY } from '../../../src/git/url-policy.js';

function refusal(url: string, policy = STRICT_NETWORK_POLICY): unknown {
  try {
    checkRepositoryUrl(url, policy);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('checkRepositoryUrl', () => {
  test.each([
    ['https://user:s3cret-pw@git.example.com/org/fleet.git', 'credentials'],
    ['https://token-only-s3cret-pw@git.example.com/org/fleet.git', 'credentials'],
    ['https://:s3cret-pw@git.example.com/org/fleet.git', 'credentials'],
    ['ssh://git:s3cret-pw@git.example.com/org/fleet.git', 'credentials'],
    ['https://git.example.com/org/fleet.git?access_token=s3cret-pw', 'query'],
    ['https://git.example.com/org/fleet.git?', 'query'],
    ['https://git.example.com/internal/admin#s3cret-pw', 'fragment'],
    ['https://git.example.com/x#', 'fragment'],
    ['git@git.example.com:org/fleet.git?s3cret-pw', 'query'],
    ['ftp://git.example.com/org/fleet.git', 'unsupported-scheme'],
    ['http://git.example.com/org/fleet.git', 'insecure-http'],
  ])('%s is refused (%s) in every policy but http, without repeating a secret', (url, reason) => {
    const error = refusal(url, reason === 'insecure-http' ? STRICT_NETWORK_POLICY : LOCAL_NETWORK_POLICY);
    expect(error).toBeInstanceOf(InvalidRepositoryUrlError);
    expect((error as InvalidRepositoryUrlError).data.reason).toBe(reason);
    expect((error as InvalidRepositoryUrlError).code).toBe('InvalidRepositoryUrlError');
    expect((error as Error).name).toBe('InvalidRepositoryUrlError');
    expect(JSON.stringify([(error as Error).message, (error as InvalidRepositoryUrlError).data])).not.toContain('s3cret-pw');
  });

  test.each([
    'https://git.example.com/org/fleet.git',
    'ssh://git@git.example.com/org/fleet.git',
    'git@git.example.com:org/fleet.git',
    'ssh://git@git.example.com:2222/org/fleet.git',
  ])('%s passes the strict policy', (url) => {
    expect(refusal(url)).toBeUndefined();
  });

  test('http:// and loopback pass the local (CLI) policy', () => {
    expect(refusal('http://127.0.0.1:8080/fleet.git', LOCAL_NETWORK_POLICY)).toBeUndefined();
    expect(refusal('ssh://git@[::1]:2222/fleet.git', LOCAL_NETWORK_POLICY)).toBeUndefined();
  });

  test.each([
    'https://127.0.0.1/fleet.git',
    'https://10.1.2.3/fleet.git',
    'https://169.254.169.254/latest/meta-data',
    'https://[::1]/fleet.git',
    'https://[::ffff:127.0.0.1]/fleet.git',
    'https://[fd00::1]/fleet.git',
    'https://[fe80::1]/fleet.git',
    'https://2130706433/fleet.git',
    'https://0x7f.1/fleet.git',
    'ssh://git@192.168.1.10/fleet.git',
    'git@172.16.0.5:fleet.git',
  ])('%s (an internal address literal) makes GitHostNotAllowedError by default', (url) => {
    const error = refusal(url);
    expect(error).toBeInstanceOf(GitHostNotAllowedError);
    expect((error as GitHostNotAllowedError).data.reason).toBe('private-address');
  });

  test('an allow list admits exact hosts and *.domain subdomains only', () => {
    const policy = { ...STRICT_NETWORK_POLICY, allowedHosts: ['github.com', '*.git.example.com'] };
    expect(refusal('https://github.com/org/fleet.git', policy)).toBeUndefined();
    expect(refusal('https://GitHub.com./org/fleet.git', policy)).toBeUndefined();
    expect(refusal('https://eu.git.example.com/fleet.git', policy)).toBeUndefined();
    for (const url of ['https://git.example.com/fleet.git', 'https://evilgithub.com/x', 'https://github.com.evil.net/x', 'ssh://git@gitlab.com/x']) {
      const error = refusal(url, policy);
      expect(error).toBeInstanceOf(GitHostNotAllowedError);
      expect((error as GitHostNotAllowedError).data.reason).toBe('not-in-allow-list');
    }
  });
});

describe('isInternalAddress', () => {
  test.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['10.0.0.1', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.0.1', true],
    ['169.254.169.254', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['224.0.0.1', true],
    ['8.8.8.8', false],
    ['140.82.121.3', false],
    ['::1', true],
    ['::', true],
    ['fc00::1', true],
    ['fdff:ffff::1', true],
    ['fe80::1%eth0', true],
    ['febf::1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['::ffff:8.8.8.8', false],
    ['64:ff9b::a9fe:a9fe', true],
    ['::127.0.0.1', true],
    ['2606:4700::1111', false],
    ['not-an-address', true],
  ])('%s -> %s', (address, internal) => {
    expect(isInternalAddress(address)).toBe(internal);
  });
});

describe('createGuardedLookup', () => {
  const lookupAll = (policy: typeof STRICT_NETWORK_POLICY, host: string) =>
    new Promise<{ error: unknown; addresses: unknown }>((resolve) => {
      createGuardedLookup(policy, `https://${host}/x`)(host, { all: true }, (error, addresses) => resolve({ error, addresses }));
    });

  test('a name resolving to loopback is refused at lookup time by the strict policy', async () => {
    const { error } = await lookupAll(STRICT_NETWORK_POLICY, 'localhost');
    expect(error).toBeInstanceOf(GitHostNotAllowedError);
    expect((error as GitHostNotAllowedError).data).toMatchObject({ host: 'localhost', reason: 'private-address' });
  });

  test('the local policy resolves the same name normally', async () => {
    const { error, addresses } = await lookupAll(LOCAL_NETWORK_POLICY, 'localhost');
    expect(error).toBeNull();
    expect((addresses as { address: string }[]).length).toBeGreaterThan(0);
  });
});
