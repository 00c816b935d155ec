/**
 * The --help text of a flag table, grouped by the part of the program that owns the flags, as
 * pflag prints a FlagSet (`--name kind   help (default x)`) and Flux's controllers group theirs.
 */
import { describeDefault, type FlagSpec, type FlagTable } from './parse-flags.js';

/** Flags under a heading: the options of one part of the program. */
export interface FlagGroup {
  readonly title: string;
  readonly flags: FlagTable;
}

const LINE_WIDTH = 100;
const MAX_NAME_WIDTH = 44;

/** `intro`, then each group's flags with their kind, help and default, wrapped to 100 columns. */
export function formatFlagHelp(intro: string, groups: readonly FlagGroup[]): string {
  const specs = groups.flatMap((group) => Object.values(group.flags));
  const nameWidth = Math.min(MAX_NAME_WIDTH, Math.max(...specs.map((spec) => synopsisOf(spec).length)));
  const indent = ' '.repeat(nameWidth + 4);
  const lines = [intro, ''];
  for (const group of groups) {
    lines.push(`${group.title}:`);
    for (const spec of Object.values(group.flags)) {
      const synopsis = synopsisOf(spec);
      const [first, ...rest] = wrap(`${spec.help} (default: ${describeDefault(spec)})`, LINE_WIDTH - indent.length);
      // A name too long for the column gets a line of its own.
      if (synopsis.length > nameWidth) lines.push(`  ${synopsis}`, `${indent}${first}`);
      else lines.push(`  ${synopsis.padEnd(nameWidth)}  ${first}`);
      lines.push(...rest.map((line) => `${indent}${line}`));
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** `--name kind`, as pflag prints it (booleans have no kind). */
function synopsisOf(spec: FlagSpec<unknown>): string {
  return spec.kind.label ? `--${spec.flag} ${spec.kind.label}` : `--${spec.flag}`;
}

/** Words of `text` in lines of at most `width` characters (a longer word gets its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  return [...lines, line];
}
