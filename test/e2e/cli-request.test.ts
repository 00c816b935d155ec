/**
 * `gitops-rollback request` as a user runs it (the built CLI): the YAML it prints parses, and
 * validates against the CRD's OpenAPI schema and CEL rules, checked here without an API server
 * (test/integration/manifests.test.ts applies the same output to a real one). Needs
 * `npm run build` first (npm test does it).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { buildCustomResourceDefinition } from '../../src/api/v1alpha1/schema.js';

const CLI = path.resolve('dist/cli/gitops-rollback.js');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
};

/**
 * The CEL rules of the schema as JavaScript predicates, for objects being created (so the
 * transition rule `self == oldSelf` holds). A rule not listed fails the test: add it here.
 */
const CEL: Record<string, (self: never) => boolean> = {
  'has(self.sourceRef) != has(self.repository)': (self: Record<string, unknown>) => 'sourceRef' in self !== 'repository' in self,
  'has(self.revert) != has(self.restore)': (self: Record<string, unknown>) => 'revert' in self !== 'restore' in self,
  'has(self.commits) != has(self.range)': (self: Record<string, unknown>) => 'commits' in self !== 'range' in self,
  'self == oldSelf': () => true,
  "self.all(p, !p.startsWith('/') && !p.matches('(^|/)\\\\.\\\\.(/|$)'))": (self: string[]) =>
    self.every((p) => !p.startsWith('/') && !/(^|\/)\.\.(\/|$)/.test(p)),
};

/** The API server's checks for a create, as far as this schema uses them; returns the violations. */
function validate(value: unknown, schema: Schema, at = ''): string[] {
  const errors: string[] = [];
  const typeOf = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : value === null ? 'null' : typeof value;
  if (schema.type && typeOf !== schema.type) return [`${at}: ${typeOf}, want ${schema.type}`];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: ${String(value)} not in ${schema.enum.join(', ')}`);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: "${value}" does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) errors.push(`${at}: less than ${schema.minimum}`);
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    value.forEach((item, i) => errors.push(...validate(item, schema.items ?? {}, `${at}[${i}]`)));
  }
  if (typeOf === 'object' && schema.properties && at !== '.metadata') {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) if (!(name in object)) errors.push(`${at}.${name}: required`);
    for (const [name, child] of Object.entries(object)) {
      const childSchema = schema.properties[name];
      if (!childSchema) errors.push(`${at}.${name}: unknown field`);
      else errors.push(...validate(child, childSchema, `${at}.${name}`));
    }
  }
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    const predicate = CEL[rule];
    if (!predicate) errors.push(`${at}: no evaluator for CEL rule ${rule}`);
    else if (!predicate(value as never)) errors.push(`${at}: ${message}`);
  }
  return errors;
}

const crd = buildCustomResourceDefinition() as { spec: { versions: { schema: { openAPIV3Schema: Schema } }[] } };
const rootSchema = crd.spec.versions[0].schema.openAPIV3Schema;

describe('gitops-rollback request', () => {
  beforeAll(() => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  });

  test('the schema checker itself rejects what the CRD rejects', () => {
    const valid = {
      apiVersion: 'rollback.gitops.dev/v1alpha1',
      kind: 'GitOpsRollback',
      metadata: { name: 'x' },
      spec: { sourceRef: { kind: 'GitRepository', name: 's' }, revert: { commits: ['abc1234'] } },
    };
    expect(validate(valid, rootSchema)).toEqual([]);
    expect(validate({ ...valid, spec: { ...valid.spec, repository: { url: 'https://g/r.git', branch: 'main' } } }, rootSchema)).toEqual([
      '.spec: exactly one of sourceRef and repository is required',
    ]);
    expect(validate({ ...valid, spec: { ...valid.spec, revert: { commits: ['HEAD~1'], paths: ['../x'] } } }, rootSchema)).toHaveLength(2);
    expect(validate({ ...valid, spec: { ...valid.spec, rever: {} } }, rootSchema)).toContain('.spec.rever: unknown field');
  });

  test.each([
    ['single commit with sourceRef', 'revert --source-ref flux-system --commit 3f2a9c1 --reason 500s --incident INC-1'],
    ['list of commits', 'revert --source-ref flux-system/fleet --commit 3f2a9c1 --commit 8b7e6d5 --namespace team-a'],
    ['range', 'revert --source-ref flux-system --range 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b..9f8e7d6'],
    ['merge with mainline', 'revert --source-ref flux-system --commit d4e5f60 --mainline 1'],
    ['squash', 'revert --source-ref flux-system --commit 3f2a9c1 --commit 8b7e6d5 --squash --author On-call_<oncall@example.com>'],
    ['paths', 'revert --source-ref flux-system --commit 3f2a9c1 --path apps/frontend --path ./infra/ingress/'],
    ['restore', 'restore --source-ref flux-system --revision 1a2b3c4 --path apps/frontend --name restore-frontend'],
    [
      'inline repository with secretRef',
      'revert --repo https://git.example.com/fleet.git --branch prod --secret fleet-git --commit 3f2a9c1 --dry-run --generate-name rollback-',
    ],
  ])('%s: prints YAML that validates against the CRD schema', async (_kind, line) => {
    const run = await runCli(['request', ...line.split(' ')]);
    expect(run.code).toBe(0);
    const manifest = parse(run.stdout) as Record<string, unknown>;
    expect(manifest).toMatchObject({ apiVersion: 'rollback.gitops.dev/v1alpha1', kind: 'GitOpsRollback' });
    expect(validate(manifest, rootSchema)).toEqual([]);
  });

  test('the reason and incident arrive unchanged through YAML quoting', async () => {
    const reason = 'Checkout: 500s # since 10:02, "frontend" 1.5.0\nsee the dashboard';
    const run = await runCli(['request', 'revert', '--source-ref', 'flux-system', '--commit', '3f2a9c1', '--reason', reason, '--incident', 'INC-7: P1']);
    expect(run.code).toBe(0);
    expect(parse(run.stdout)).toMatchObject({ spec: { reason, incident: 'INC-7: P1' } });
  });

  test('a symbolic revision exits 2 with the reason on stderr and nothing on stdout', async () => {
    const run = await runCli(['request', 'revert', '--source-ref', 'flux-system', '--commit', 'HEAD~1']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--commit must be a commit sha of 7 to 40 hex characters');
  });

  test('a path with .. exits 2', async () => {
    const run = await runCli(['request', 'restore', '--source-ref', 'flux-system', '--revision', '1a2b3c4', '--path', 'apps/../../etc']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--path: Invalid path');
  });

  test('--help shows the request command', async () => {
    const run = await runCli(['request', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('gitops-rollback request revert|restore');
  });
});
