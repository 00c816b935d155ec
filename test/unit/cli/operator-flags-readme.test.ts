/**
 * README.md's table of operator flags (`| flag | default | |`) says what the code does: every
 * flag of src/cli/operator-flags.ts is listed with the default --help prints, and none other.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeDefault } from '../../../src/cli/flags/parse-flags.js';
import { OPERATOR_FLAGS } from '../../../src/cli/operator-flags.js';

/** Default cells by flag, from the rows of the table; a row may list several flags and defaults. */
function readReadmeFlagTable(): Map<string, string> {
  const readme = fs.readFileSync(path.resolve('README.md'), 'utf8');
  const start = readme.indexOf('| flag | default | |');
  if (start < 0) throw new Error('README.md has no "| flag | default | |" table');
  const lines = readme.slice(start).split('\n');
  const rows = lines.slice(
    2,
    lines.findIndex((line) => !line.startsWith('|')),
  );
  const defaults = new Map<string, string>();
  for (const row of rows) {
    const [flagCell, defaultCell] = row
      .split('|')
      .slice(1)
      .map((cell) => cell.trim());
    const flags = [...flagCell.matchAll(/`--([a-z0-9-]+)`/g)].map((match) => match[1]);
    const cells = flags.length > 1 ? defaultCell.split(/,\s*/) : [defaultCell];
    if (cells.length !== flags.length) throw new Error(`README row lists ${flags.length} flags and ${cells.length} defaults: ${row}`);
    flags.forEach((flag, i) => defaults.set(flag, cells[i].replaceAll('`', '')));
  }
  return defaults;
}

describe("README's operator flag table", () => {
  const readme = readReadmeFlagTable();
  const specs = Object.values(OPERATOR_FLAGS);

  test.each(specs.map((spec) => [spec.flag, spec] as const))('--%s is listed with its default', (flag, spec) => {
    const cell = readme.get(flag);
    expect(cell).toBeDefined();
    // The cell may go on after the default: "256 MiB", "1073741824 (1 GiB)".
    const expected = describeDefault(spec);
    expect(cell === expected || cell!.startsWith(`${expected} `) ? expected : cell).toBe(expected);
  });

  test('lists no flag the operator lacks', () => {
    const known = new Set<string>(specs.map((spec) => spec.flag));
    expect([...readme.keys()].filter((flag) => !known.has(flag))).toEqual([]);
  });
});
