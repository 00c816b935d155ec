/**
 * The kinds of value an operator flag takes, each with its parser, like the typed `flag.*Var`
 * functions of Go's flag package (and pflag's `Duration`, `StringSlice`) that Flux's main.go uses.
 * A parser returns undefined for text that is not such a value; the caller names the flag.
 */
import { parseDuration } from '../../flux/duration.js';
import { parseByteSize } from '../../git/transfer-limits.js';

/** How one kind of flag value is read from the command line. */
export interface FlagKind<T> {
  /** How node:util parseArgs reads the flag: a boolean takes no value (and has --no-x). */
  readonly type: 'string' | 'boolean';
  /** Shown in --help after the flag's name, as pflag does (`duration`, `int`); empty for booleans. */
  readonly label: string;
  /** What a valid value looks like, completing "expected ..." in an error. */
  readonly expected: string;
  /** The value of `text`, or undefined when it is not one. */
  parse(text: string): T | undefined;
}

/** Where a server listens; `host` undefined listens on every interface. */
export interface BindAddress {
  host?: string;
  port: number;
}

/** Longest delay a Node timer keeps (2^31 - 1 ms, ~24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const text: FlagKind<string> = { type: 'string', label: 'string', expected: 'a string', parse: (value) => value };

/** A boolean flag: `--x` sets it, `--no-x` clears it, the last one given wins. */
export const boolean: FlagKind<boolean> = { type: 'boolean', label: '', expected: 'no value', parse: (value) => value === 'true' };

/** Comma-separated items, trimmed; empty items are dropped (so '' is the empty list). */
export const commaList: FlagKind<string[]> = {
  type: 'string',
  label: 'strings',
  expected: 'a comma-separated list',
  parse: (value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
};

/** A whole number of at least `min`. */
export function integer(min: number): FlagKind<number> {
  return {
    type: 'string',
    label: 'int',
    expected: `a whole number of at least ${min}`,
    parse: (value) => {
      if (!/^\d+$/.test(value)) return undefined;
      const number = Number(value);
      return Number.isSafeInteger(number) && number >= min ? number : undefined;
    },
  };
}

/**
 * A duration in milliseconds: a Go duration as the CRD and Flux write them (`90s`, `5m`,
 * `1h30m`, `500ms`) or a bare number of seconds (`60`, `0.2`), which these flags took before.
 */
export function duration(options: { allowZero: boolean }): FlagKind<number> {
  return {
    type: 'string',
    label: 'duration',
    expected: `a duration such as 90s, 5m, 1h30m or 500ms, or a number of seconds${options.allowZero ? '' : ', above 0'}, at most 596h`,
    parse: (value) => {
      const ms = parseDurationOrSeconds(value);
      if (ms === undefined || ms > MAX_TIMER_MS) return undefined;
      return ms > 0 || (options.allowZero && ms === 0) ? ms : undefined;
    },
  };
}

function parseDurationOrSeconds(value: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  try {
    return parseDuration(value);
  } catch {
    return undefined;
  }
}

/** A size in bytes: plain bytes or a number with Ki, Mi or Gi (`128Mi`, `1Gi`). */
export function byteSize(options: { allowZero: boolean }): FlagKind<number> {
  return {
    type: 'string',
    label: 'bytes',
    expected: `bytes, or a number with Ki, Mi or Gi (e.g. 128Mi)${options.allowZero ? '' : ', above 0'}`,
    // parseByteSize refuses 0, which some budgets accept (evict everything not in use).
    parse: (value) => (options.allowZero && /^\s*0+\s*$/.test(value) ? 0 : parseByteSize(value)),
  };
}

/** `[host]:port`; an empty host listens on every interface. */
export const bindAddress: FlagKind<BindAddress> = { type: 'string', label: '[host]:port', expected: '[host]:port', parse: parseBindAddress };

/** `[host]:port`, or `0`, which turns the server off. */
export const bindAddressOrOff: FlagKind<BindAddress | 'off'> = {
  type: 'string',
  label: '[host]:port',
  expected: '[host]:port, or 0 to turn it off',
  parse: (value) => (value === '0' ? 'off' : parseBindAddress(value)),
};

function parseBindAddress(value: string): BindAddress | undefined {
  const match = /^(.*):(\d{1,5})$/.exec(value);
  if (!match || Number(match[2]) > 65_535) return undefined;
  return { host: match[1] || undefined, port: Number(match[2]) };
}

/** One of a fixed set of words; `label` names the set in --help (`level`). */
export function oneOf<const Word extends string>(label: string, words: readonly Word[]): FlagKind<Word> {
  return {
    type: 'string',
    label,
    expected: `one of ${words.join(', ')}`,
    parse: (value) => words.find((word) => word === value),
  };
}
