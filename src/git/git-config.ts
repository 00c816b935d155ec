/**
 * Reads and sets the few keys the engine keeps in a repository's own `config` file, in git's
 * config format (git-config(1) "CONFIGURATION FILE", config.c), so `git config --get` reads what
 * we write and we read what git writes: `[section "subsection"]` headers, `name = value` lines,
 * section and name without case, the subsection with it, `#`/`;` comments, quotes and the escapes
 * \t \b \n \\ \". A key set twice reads as its last value, as `git config --get`. Setting a key
 * replaces its last line, else adds it at the end of its section, else adds the section; the
 * file is written as git does, to `config.lock` renamed over `config`. Only the repository's own
 * file is read (no includes, no global or system files): the engine's keys live there.
 */
import { join } from 'node:path';
import type { Fs } from './object-store.js';

interface ConfigLine {
  text: string;
  /** `section` or `section.subsection` of the header above (section lowercased). */
  sectionKey?: string;
  /** The full key (`section.subsection.name`, section and name lowercased) of a variable line. */
  key?: string;
  value?: string;
}

/** The value of `key` (`section.name` or `section.subsection.name`) in `<gitdir>/config`, or undefined. */
export async function readConfigValue(fs: Fs, gitdir: string, key: string): Promise<string | undefined> {
  const wanted = normalizeKey(key).key;
  let value: string | undefined;
  for (const line of parseConfig(await readConfigText(fs, gitdir))) if (line.key === wanted) value = line.value;
  return value;
}

/** Sets each key to its value in `<gitdir>/config`; writes nothing when all already have them. */
export async function writeConfigValues(fs: Fs, gitdir: string, values: Record<string, string>): Promise<void> {
  const lines = parseConfig(await readConfigText(fs, gitdir));
  let changed = false;
  for (const [rawKey, value] of Object.entries(values)) {
    const { key, sectionKey, section, subsection, name } = normalizeKey(rawKey);
    const text = `\t${name} = ${serializeValue(value)}`;
    const last = findLastIndex(lines, (line) => line.key === key);
    if (last >= 0) {
      if (lines[last].value === value) continue;
      lines[last] = { text, sectionKey, key, value };
    } else {
      const end = findLastIndex(lines, (line) => line.sectionKey === sectionKey);
      const entry = { text, sectionKey, key, value };
      if (end >= 0) lines.splice(end + 1, 0, entry);
      else lines.push({ text: subsection === undefined ? `[${section}]` : `[${section} "${escapeSubsection(subsection)}"]`, sectionKey }, entry);
    }
    changed = true;
  }
  if (!changed) return;
  const path = join(gitdir, 'config');
  const lock = `${path}.lock`;
  await fs.promises.writeFile(lock, lines.map((line) => `${line.text}\n`).join(''));
  await fs.promises.rename(lock, path);
}

async function readConfigText(fs: Fs, gitdir: string): Promise<string> {
  try {
    return await fs.promises.readFile(join(gitdir, 'config'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

function normalizeKey(raw: string): { key: string; sectionKey: string; section: string; subsection?: string; name: string } {
  const first = raw.indexOf('.');
  const last = raw.lastIndexOf('.');
  if (first <= 0 || last === raw.length - 1) throw new Error(`key does not contain a section and a name: ${raw}`);
  const section = raw.slice(0, first).toLowerCase();
  const name = raw.slice(last + 1).toLowerCase();
  const subsection = first === last ? undefined : raw.slice(first + 1, last);
  const sectionKey = subsection === undefined ? section : `${section}.${subsection}`;
  return { key: `${sectionKey}.${name}`, sectionKey, section, subsection, name };
}

const SECTION = /^\[([A-Za-z0-9.-]+)(?:\s+"((?:\\.|[^"\\])*)")?\]/;
const VARIABLE = /^([A-Za-z][A-Za-z0-9-]*)\s*(?:=(.*))?$/;

function parseConfig(text: string): ConfigLine[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let sectionKey: string | undefined;
  return lines.map((raw) => {
    const line = raw.trim();
    const header = SECTION.exec(line);
    if (header) {
      const [, section, subsection] = header;
      // `[section.sub]` is the old spelling of a subsection, compared without case.
      const dot = section.indexOf('.');
      sectionKey =
        subsection !== undefined
          ? `${section.toLowerCase()}.${subsection.replace(/\\(.)/g, '$1')}`
          : dot > 0
            ? `${section.slice(0, dot).toLowerCase()}.${section.slice(dot + 1).toLowerCase()}`
            : section.toLowerCase();
      return { text: raw, sectionKey };
    }
    const variable = sectionKey === undefined ? null : VARIABLE.exec(line);
    if (!variable) return { text: raw, sectionKey };
    const [, name, value] = variable;
    // A name alone (no `=`) is a boolean true.
    return { text: raw, sectionKey, key: `${sectionKey}.${name.toLowerCase()}`, value: value === undefined ? 'true' : parseValue(value) };
  });
}

const ESCAPES: Record<string, string> = { t: '\t', b: '\b', n: '\n', '\\': '\\', '"': '"' };

/** config.c parse_value(): quotes removed, comments cut, inner whitespace kept, trailing trimmed. */
function parseValue(raw: string): string {
  let value = '';
  let space = '';
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (!quoted && /[ \t\r\v\f]/.test(c)) {
      if (value !== '') space += c;
      continue;
    }
    if (!quoted && (c === '#' || c === ';')) break;
    value += space;
    space = '';
    if (c === '\\' && raw[i + 1] !== undefined && raw[i + 1] in ESCAPES) value += ESCAPES[raw[++i]];
    else if (c === '"') quoted = !quoted;
    else value += c;
  }
  return value;
}

/** config.c write_pair(): quoted when it starts or ends with a space or holds a comment character. */
function serializeValue(value: string): string {
  const quote = value.startsWith(' ') || value.endsWith(' ') || /[#;]/.test(value) ? '"' : '';
  const escaped = value.replace(/[\\"\n\t]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\${c}`));
  return `${quote}${escaped}${quote}`;
}

function escapeSubsection(subsection: string): string {
  return subsection.replace(/[\\"]/g, (c) => `\\${c}`);
}

function findLastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i])) return i;
  return -1;
}
