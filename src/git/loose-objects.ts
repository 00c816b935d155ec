/**
 * Writes loose objects as git's write_loose_object() does (object-file.c): the object is
 * "<type> <size>\0<body>", named by the SHA-1 of those bytes, deflated with zlib into
 * `objects/<first 2 hex>/<other 38>`. The bytes go to a temporary file in that directory first
 * and are renamed into place, so a reader never sees half an object; an object already there
 * is left alone (git's "freshen" aside). isomorphic-git's writeObject writes the same content.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import type { Fs } from './object-store.js';
import type { GitObjectType } from './pack-reader.js';

/** The id of an object: the SHA-1 of its header and body. */
export function hashObject(type: GitObjectType, body: Uint8Array): string {
  return createHash('sha1').update(objectHeader(type, body.length)).update(body).digest('hex');
}

function objectHeader(type: GitObjectType, size: number): Buffer {
  return Buffer.from(`${type} ${size}\0`, 'latin1');
}

/** Writes `body` as a loose object of `type` unless one with its id is there; returns the id. */
export async function writeLooseObject(fs: Fs, gitdir: string, type: GitObjectType, body: Uint8Array): Promise<string> {
  const header = objectHeader(type, body.length);
  const oid = createHash('sha1').update(header).update(body).digest('hex');
  const dir = join(gitdir, 'objects', oid.slice(0, 2));
  const path = join(dir, oid.slice(2));
  if (fs.existsSync(path)) return oid;
  const deflated = deflateSync(Buffer.concat([header, body]));
  await fs.promises.mkdir(dir, { recursive: true });
  // git's own temporary name (tmp_obj_XXXXXX), in the object's directory so the rename stays on one file system.
  const temp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
  try {
    await fs.promises.writeFile(temp, deflated, { mode: 0o444 });
    await fs.promises.rename(temp, path);
  } catch (error) {
    await fs.promises.rm(temp, { force: true });
    throw error;
  }
  return oid;
}
