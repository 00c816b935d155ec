/**
 * The operator image's supply chain, read from the Dockerfile: every base image is pinned by
 * digest, and the final stage is distroless Node (no shell, apt or npm) running as nonroot.
 * (The image cannot be built on the test machines; the Dockerfile is what can be checked.)
 */
import * as fs from 'node:fs';

interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of a Dockerfile: comments dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Stages: the FROM image, the stage name, and the stage's instructions after FROM. */
function stagesOf(instructions: Instruction[]): { image: string; name?: string; body: Instruction[] }[] {
  const stages: { image: string; name?: string; body: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.replace(/--platform=\S+\s+/, '').split(/\s+/);
      stages.push({ image, ...(as?.toUpperCase() === 'AS' ? { name } : {}), body: [] });
    } else stages.at(-1)?.body.push(instruction);
  }
  return stages;
}

const stages = stagesOf(parseDockerfile(fs.readFileSync('Dockerfile', 'utf8')));
const names = new Set(stages.map((s) => s.name).filter(Boolean));
const final = stages.at(-1)!;

describe('Dockerfile', () => {
  test('every base image is pinned by a sha256 digest (a stage name refers to a pinned stage)', () => {
    expect(stages.length).toBeGreaterThan(1);
    for (const { image } of stages) {
      if (names.has(image)) continue;
      expect(image).toMatch(/^[a-z0-9./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$/);
    }
  });

  test('the final stage is distroless Node 24 (nonroot), not a stage with a shell', () => {
    expect(final.image).toMatch(/^gcr\.io\/distroless\/nodejs24-debian12(:nonroot)?@sha256:/);
  });

  test('the final stage runs nothing at build time and has no npm: no RUN, no npm or shell in its commands or copies', () => {
    expect(final.body.filter((i) => i.keyword === 'RUN')).toEqual([]);
    for (const instruction of final.body) {
      expect(instruction.args).not.toMatch(/\bnpm\b|\bnpx\b|\/bin\/(ba)?sh\b|\bapt(-get)?\b/);
    }
    const copies = final.body.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies.some((args) => /node_modules\/npm|\/usr\/local\/(bin|lib)/.test(args))).toBe(false);
  });

  test('the final stage runs as the numeric nonroot user, with node on an exec-form entrypoint', () => {
    const user = final.body.filter((i) => i.keyword === 'USER').at(-1);
    expect(user?.args).toBe('65532:65532');
    const entrypoint = final.body.find((i) => i.keyword === 'ENTRYPOINT');
    expect(JSON.parse(entrypoint!.args)).toEqual(['/nodejs/bin/node', 'dist/cli/main.js']);
  });
});
