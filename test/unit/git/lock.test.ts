import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GitTimeoutError } from '../../../src/git/errors.js';
import { lockFilePath, removeStaleLockFiles, tryWithRepositoryLock, withRepositoryLock } from '../../../src/git/lock.js';

let lockDir: string;

beforeEach(async () => {
  lockDir = await mkdtemp(join(tmpdir(), 'lock-test-'));
});

afterEach(async () => {
  await rm(lockDir, { recursive: true, force: true });
});

/** Runs `fn` recording when it starts and ends, for overlap checks. */
function recorder() {
  const events: string[] = [];
  const task = (name: string, ms: number) => async () => {
    events.push(`start ${name}`);
    await sleep(ms);
    events.push(`end ${name}`);
    return name;
  };
  return { events, task };
}

/** A live process of our own, standing for "another CLI run" holding the lock. */
function startOtherProcess(script: string): ChildProcess {
  return spawn('sh', ['-c', script], { stdio: 'ignore' });
}

describe('withRepositoryLock in-process', () => {
  it('runs callers with the same key one at a time, in arrival order', async () => {
    const { events, task } = recorder();
    const results = await Promise.all([
      withRepositoryLock('repo-a', task('1', 30)),
      withRepositoryLock('repo-a', task('2', 10)),
      withRepositoryLock('repo-a', task('3', 1)),
    ]);
    expect(results).toEqual(['1', '2', '3']);
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('runs different keys in parallel', async () => {
    const { events, task } = recorder();
    await Promise.all([withRepositoryLock('repo-b', task('b', 30)), withRepositoryLock('repo-c', task('c', 30))]);
    expect(events.slice(0, 2).sort()).toEqual(['start b', 'start c']);
  });

  it('releases the lock when the holder throws', async () => {
    const failing = withRepositoryLock('repo-d', async () => {
      throw new Error('boom');
    });
    await expect(failing).rejects.toThrow('boom');
    await expect(withRepositoryLock('repo-d', async () => 'next')).resolves.toBe('next');
  });
});

describe('withRepositoryLock across processes', () => {
  it('holds a lock file naming this process instance (pid, start time, nonce) and removes it afterwards', async () => {
    const path = lockFilePath(lockDir, 'https://example.com/repo.git');
    await withRepositoryLock(
      'https://example.com/repo.git',
      async () => {
        expect((await readFile(path, 'utf8')).trim()).toMatch(new RegExp(`^${process.pid} \\d+ [0-9a-f]{16}$`));
      },
      { lockDir },
    );
    expect(existsSync(path)).toBe(false);
  });

  it('removes the lock file when the holder throws', async () => {
    const path = lockFilePath(lockDir, 'repo');
    await expect(
      withRepositoryLock(
        'repo',
        async () => {
          throw new Error('boom');
        },
        { lockDir },
      ),
    ).rejects.toThrow('boom');
    expect(existsSync(path)).toBe(false);
  });

  it('waits while another live process holds the lock, then takes it', async () => {
    const path = lockFilePath(lockDir, 'repo');
    const other = startOtherProcess(`sleep 0.3; rm -f '${path}'; sleep 5`);
    try {
      await writeFile(path, `${other.pid}\n`);
      const started = Date.now();
      await withRepositoryLock(
        'repo',
        async () => {
          expect((await readFile(path, 'utf8')).trim()).toMatch(new RegExp(`^${process.pid} `));
        },
        { lockDir, timeoutMs: 5_000 },
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      other.kill();
    }
  });

  it('breaks a stale lock whose pid is dead', async () => {
    const path = lockFilePath(lockDir, 'repo');
    const dead = startOtherProcess('exit 0');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeFile(path, `${dead.pid}\n`);
    await expect(withRepositoryLock('repo', async () => 'ran', { lockDir, timeoutMs: 2_000 })).resolves.toBe('ran');
    expect(existsSync(path)).toBe(false);
  });

  it('gives up with GitTimeoutError when the holder stays alive', async () => {
    const path = lockFilePath(lockDir, 'repo');
    const other = startOtherProcess('sleep 5');
    try {
      await writeFile(path, `${other.pid}\n`);
      let ran = false;
      const fn = async () => {
        ran = true;
      };
      await expect(withRepositoryLock('repo', fn, { lockDir, timeoutMs: 200 })).rejects.toBeInstanceOf(GitTimeoutError);
      expect(ran).toBe(false);
      expect((await readFile(path, 'utf8')).trim()).toBe(String(other.pid));
    } finally {
      other.kill();
    }
  });

  // A container restart: the operator was pid 1 and is pid 1 again; the cache volume (and the
  // lock file of a rollback cut short) survived. The old code read "1", found pid 1 alive, and
  // waited 120 s, then failed, on every later rollback of that repository.
  it('does not wait on a lock file left by a previous process with our own pid (old format: pid only)', async () => {
    const path = lockFilePath(lockDir, 'repo');
    await writeFile(path, `${process.pid}\n`);
    await expect(withRepositoryLock('repo', async () => 'ran', { lockDir, timeoutMs: 200 })).resolves.toBe('ran');
    expect(existsSync(path)).toBe(false);
  });

  it('does not wait on a lock file of a previous instance with our pid (new format, another nonce)', async () => {
    const path = lockFilePath(lockDir, 'repo');
    await writeFile(path, `${process.pid} 1 0123456789abcdef\n`);
    await expect(withRepositoryLock('repo', async () => 'ran', { lockDir, timeoutMs: 200 })).resolves.toBe('ran');
  });

  it('breaks a lock whose pid is alive but started at another time (pid reused)', async () => {
    const path = lockFilePath(lockDir, 'repo');
    const other = startOtherProcess('sleep 5');
    try {
      await writeFile(path, `${other.pid} 1 0123456789abcdef\n`);
      await expect(withRepositoryLock('repo', async () => 'ran', { lockDir, timeoutMs: 200 })).resolves.toBe('ran');
    } finally {
      other.kill();
    }
  });

  it('removes stale lock files at start-up and keeps those of live processes', async () => {
    const other = startOtherProcess('sleep 5');
    try {
      const live = lockFilePath(lockDir, 'live');
      await writeFile(live, `${other.pid}\n`);
      await writeFile(lockFilePath(lockDir, 'ours-before-restart'), `${process.pid}\n`);
      await writeFile(lockFilePath(lockDir, 'reused'), `${other.pid} 1 0123456789abcdef\n`);
      expect(await removeStaleLockFiles(lockDir)).toBe(2);
      expect(existsSync(live)).toBe(true);
      expect(existsSync(lockFilePath(lockDir, 'ours-before-restart'))).toBe(false);
    } finally {
      other.kill();
    }
  });

  it('tryWithRepositoryLock skips a key held here or by a live process, without waiting', async () => {
    let release!: () => void;
    let started!: () => void;
    const holding = new Promise<void>((resolve) => (started = resolve));
    const held = withRepositoryLock(
      'busy',
      () =>
        new Promise<void>((resolve) => {
          release = resolve;
          started();
        }),
      { lockDir },
    );
    await holding;
    await expect(tryWithRepositoryLock('busy', async () => 'ran', { lockDir })).resolves.toEqual({ ran: false });
    release();
    await held;
    await expect(tryWithRepositoryLock('busy', async () => 'ran', { lockDir })).resolves.toEqual({ ran: true, value: 'ran' });
    const other = startOtherProcess('sleep 5');
    try {
      await writeFile(lockFilePath(lockDir, 'elsewhere'), `${other.pid}\n`);
      await expect(tryWithRepositoryLock('elsewhere', async () => 'ran', { lockDir })).resolves.toEqual({ ran: false });
    } finally {
      other.kill();
    }
  });

  it('does not remove a lock file that another process took over after breaking ours', async () => {
    const path = lockFilePath(lockDir, 'repo');
    await withRepositoryLock(
      'repo',
      async () => {
        await writeFile(path, '999999 1 fedcba9876543210\n');
      },
      { lockDir },
    );
    expect((await readFile(path, 'utf8')).trim()).toBe('999999 1 fedcba9876543210');
  });
});
