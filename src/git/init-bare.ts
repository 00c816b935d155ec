/**
 * Creates a bare repository as `git init --bare` lays it out (and isomorphic-git's init with
 * `bare: true`): `HEAD` naming the unborn `refs/heads/master`, `objects/` with `info/` and
 * `pack/`, `refs/heads`, `refs/tags`, `hooks/`, `info/`, and a `config` with core.bare = true
 * and repositoryformatversion 0. `config` is written last, through a rename: a repository with
 * a config is complete (./remote.ts opens the cache with this test).
 */
import { join } from 'node:path';
import type { Fs } from './object-store.js';

const DIRECTORIES = ['hooks', 'info', 'objects/info', 'objects/pack', 'refs/heads', 'refs/tags'];
const CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n';

/** Initialises a bare repository at `gitdir`; one that already has a config is left alone. */
export async function initBareRepository(fs: Fs, gitdir: string): Promise<void> {
  if (fs.existsSync(join(gitdir, 'config'))) return;
  for (const dir of DIRECTORIES) await fs.promises.mkdir(join(gitdir, dir), { recursive: true });
  await writeFileAtomically(fs, join(gitdir, 'HEAD'), 'ref: refs/heads/master\n');
  await writeFileAtomically(fs, join(gitdir, 'config'), CONFIG);
}

async function writeFileAtomically(fs: Fs, path: string, text: string): Promise<void> {
  await fs.promises.writeFile(`${path}.lock`, text);
  await fs.promises.rename(`${path}.lock`, path);
}
