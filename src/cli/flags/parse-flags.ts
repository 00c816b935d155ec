/**
 * Reads a command line against a table of typed flags, as Go's flag package reads the flags
 * bound to a FlagSet: every value is checked where it is read, and a bad one stops the program
 * with a message naming the flag. A later flag wins over an earlier one, so `--no-x` after `--x`
 * clears it (node:util parseArgs' `allowNegative`).
 */
import { parseArgs } from 'node:util';
import type { FlagKind } from './flag-kinds.js';
import { CodedError } from '../../coded-error.js';

/** One flag: its name (without `--`), kind, default, help text. */
export interface FlagSpec<T> {
  readonly flag: string;
  readonly kind: FlagKind<T>;
  /** Written as a user would write it, and parsed like one; booleans: 'true' or 'false'. */
  readonly default?: string;
  /** What an unset flag (or one whose default is empty) means, for --help: "in-cluster". */
  readonly unset?: string;
  readonly help: string;
}

/** Flags by the option name the program reads them as (`gitTimeoutMs` for --git-timeout). */
export type FlagTable = Readonly<Record<string, FlagSpec<unknown>>>;

/** The typed value of one flag: undefined only when it has no default and was not given. */
export type FlagValue<Spec> = Spec extends { kind: FlagKind<infer T> } ? (Spec extends { default: string } ? T : T | undefined) : never;

export type FlagValues<Table extends FlagTable> = { readonly [Option in keyof Table]: FlagValue<Table[Option]> };

/** A command line the program cannot run with; the message starts with the flag at fault. */
export class FlagError extends CodedError {
  readonly code = 'FlagError' as const;
  constructor(
    /** The flag (`--git-timeout`) or argument at fault. */
    readonly flag: string,
    problem: string,
  ) {
    super(`${flag}: ${problem}`);
  }
}

/** What a command line asks for: the help text, or a run with these values. */
export type ParsedFlags<Table extends FlagTable> = { help: true } | { help: false; values: FlagValues<Table> };

/** Values echoed in errors are cut here: the command line is not ours to bound. */
const MAX_ECHOED_VALUE = 100;

/**
 * Parses `argv` (without node and the script) against `table`. `-h`/`--help` anywhere asks for
 * help. Throws {@link FlagError} for an unknown flag, a missing or unexpected value, a value of
 * the wrong kind, or a positional argument.
 */
export function parseFlags<Table extends FlagTable>(table: Table, argv: readonly string[]): ParsedFlags<Table> {
  const specs = new Map(Object.entries(table).map(([option, spec]) => [spec.flag, { option, spec }]));
  const options = Object.fromEntries([...specs].map(([flag, { spec }]) => [flag, { type: spec.kind.type }]));
  // strict: false hands back every token, so each mistake gets a message naming its flag.
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...options, help: { type: 'boolean', short: 'h' } },
    strict: false,
    allowPositionals: true,
    allowNegative: true,
    tokens: true,
  });
  if (tokens.some((token) => token.kind === 'option' && token.name === 'help')) return { help: true };

  const given = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') throw new FlagError(echo(token.value), 'unexpected argument (only flags are taken)');
    const entry = specs.get(token.name);
    const negated = token.rawName.startsWith('--no-');
    if (!entry || (negated && entry.spec.kind.type !== 'boolean')) throw new FlagError(token.rawName, 'unknown flag');
    if (entry.spec.kind.type === 'boolean') {
      if (token.value !== undefined) throw new FlagError(token.rawName, `takes no value (write --${token.name} or --no-${token.name})`);
      given.set(token.name, String(!negated));
    } else {
      // A value starting with '-' after a space is most likely the next flag: --kubeconfig --leader-elect.
      if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
        throw new FlagError(token.rawName, `needs a value (expected ${entry.spec.kind.expected}); write ${token.rawName}=VALUE`);
      }
      given.set(token.name, token.value);
    }
  }

  const values: Record<string, unknown> = {};
  for (const [flag, { option, spec }] of specs) {
    const raw = given.get(flag) ?? spec.default;
    values[option] = raw === undefined ? undefined : parseValue(spec, raw, given.has(flag));
  }
  return { help: false, values: values as FlagValues<Table> };
}

function parseValue<T>(spec: FlagSpec<T>, raw: string, given: boolean): T {
  const value = spec.kind.parse(raw);
  if (value !== undefined) return value;
  const source = given ? '' : ' (the default)';
  throw new FlagError(`--${spec.flag}`, `invalid value "${echo(raw)}"${source}: expected ${spec.kind.expected}`);
}

function echo(value: string): string {
  return value.length > MAX_ECHOED_VALUE ? `${value.slice(0, MAX_ECHOED_VALUE)}…` : value;
}

/** The default as --help and the README show it: `on`/`off` for booleans, else as written. */
export function describeDefault(spec: FlagSpec<unknown>): string {
  if (spec.kind.type === 'boolean') return spec.default === 'true' ? 'on' : 'off';
  if (spec.default === undefined || spec.default === '') return spec.unset ?? 'none';
  return spec.default;
}
