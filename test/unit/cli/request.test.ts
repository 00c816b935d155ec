import { parse } from 'yaml';
import { UsageError } from '../../../src/cli/args.js';
import { buildRequestManifest, formatManifest } from '../../../src/cli/request.js';

const build = (line: string) => buildRequestManifest(line.split(' '));

describe('buildRequestManifest', () => {
  test('a revert with every option becomes one GitOpsRollback with a sourceRef', () => {
    const manifest = build(
      'revert --source-ref flux-system/fleet --name frontend-rollback --namespace team-a --commit abc1234 --commit DEF5678 --mainline 1 --path apps/frontend/ --squash --reason x --incident INC-1 --author Ops_<ops@example.com> --dry-run',
    );
    expect(manifest).toEqual({
      apiVersion: 'rollback.gitops.dev/v1alpha1',
      kind: 'GitOpsRollback',
      metadata: { name: 'frontend-rollback', namespace: 'team-a' },
      spec: {
        sourceRef: { kind: 'GitRepository', name: 'fleet', namespace: 'flux-system' },
        revert: { commits: ['abc1234', 'DEF5678'], mainline: 1, paths: ['apps/frontend'], squash: true },
        reason: 'x',
        incident: 'INC-1',
        author: { name: 'Ops_', email: 'ops@example.com' },
        dryRun: true,
      },
    });
  });

  test('--push-branch and --pull-request write spec.push and spec.pullRequest; bad values are refused', () => {
    const spec = build(
      'revert --source-ref flux-system --commit abc1234 --push-branch rollback/inc-1 --pull-request gitlab --pull-request-secret gl-token',
    ).spec;
    expect(spec.push).toEqual({ branch: 'rollback/inc-1' });
    expect(spec.pullRequest).toEqual({ provider: 'gitlab', secretRef: { name: 'gl-token' } });
    expect(build('revert --source-ref flux-system --commit abc1234 --pull-request gitea').spec.pullRequest).toEqual({ provider: 'gitea' });
    expect(() => build('revert --source-ref flux-system --commit abc1234 --push-branch a..b')).toThrow(UsageError);
    expect(() => build('revert --source-ref flux-system --commit abc1234 --pull-request svn')).toThrow(UsageError);
    expect(() => build('revert --source-ref flux-system --commit abc1234 --pull-request-secret s')).toThrow('--pull-request-secret needs --pull-request');
  });

  test('--signing-secret names the Secret of spec.signing; a bad name is refused', () => {
    expect(build('revert --source-ref flux-system --commit abc1234 --signing-secret rollback-signing-key').spec.signing).toEqual({
      secretRef: { name: 'rollback-signing-key' },
    });
    expect(() => build('revert --source-ref flux-system --commit abc1234 --signing-secret Bad_Name')).toThrow(UsageError);
  });

  test('a source-ref without a namespace leaves it to the rollback namespace', () => {
    expect(build('revert --source-ref flux-system --commit abc1234').spec.sourceRef).toEqual({ kind: 'GitRepository', name: 'flux-system' });
  });

  test('an inline repository defaults to main and takes a Secret', () => {
    expect(build('revert --repo https://git.example/fleet.git --secret creds --commit abc1234').spec.repository).toEqual({
      url: 'https://git.example/fleet.git',
      branch: 'main',
      secretRef: { name: 'creds' },
    });
    expect(build('revert --repo ssh://git@git.example/fleet.git --branch prod --commit abc1234').spec.repository).toEqual({
      url: 'ssh://git@git.example/fleet.git',
      branch: 'prod',
    });
  });

  test('a range is split into from and to; unset options are left out', () => {
    expect(build('revert --source-ref s --range abc1234..def5678').spec).toEqual({
      sourceRef: { kind: 'GitRepository', name: 's' },
      revert: { range: { from: 'abc1234', to: 'def5678' } },
    });
  });

  test('restore takes a revision and paths', () => {
    expect(build('restore --source-ref s --revision abc1234 --path b --path a').spec.restore).toEqual({ revision: 'abc1234', paths: ['a', 'b'] });
  });

  test.each([
    ['revert --source-ref s --commit ABC1234def', 'revert-abc1234'],
    ['revert --source-ref s --range abc1234..def5678', 'revert-def5678'],
    ['restore --source-ref s --revision 0123456789abcdef --path a', 'restore-0123456'],
  ])('the default name comes from the revision: %s', (line, name) => {
    expect(build(line).metadata).toEqual({ name });
  });

  test('--generate-name sets metadata.generateName and no name', () => {
    expect(build('revert --source-ref s --commit abc1234 --generate-name rollback-').metadata).toEqual({ generateName: 'rollback-' });
  });

  test.each([
    ['no action', ''],
    ['unknown action', 'rewind --source-ref s --commit abc1234'],
    ['no source', 'revert --commit abc1234'],
    ['both sources', 'revert --source-ref s --repo https://g/r.git --commit abc1234'],
    ['branch with a source-ref', 'revert --source-ref s --branch prod --commit abc1234'],
    ['secret with a source-ref', 'revert --source-ref s --secret creds --commit abc1234'],
    ['source-ref with two slashes', 'revert --source-ref a/b/c --commit abc1234'],
    ['source-ref with upper case', 'revert --source-ref Flux --commit abc1234'],
    ['local path as repo', 'revert --repo /srv/fleet.git --commit abc1234'],
    ['bad secret name', 'revert --repo https://g/r.git --secret Creds_1 --commit abc1234'],
    ['symbolic revision', 'revert --source-ref s --commit HEAD~1'],
    ['short sha', 'revert --source-ref s --commit abc123'],
    ['41 hex characters', `revert --source-ref s --commit ${'a'.repeat(41)}`],
    ['symbolic range end', 'revert --source-ref s --range abc1234..main'],
    ['symbolic restore revision', 'restore --source-ref s --revision v1.2.3 --path a'],
    ['path with ..', 'revert --source-ref s --commit abc1234 --path apps/../secrets'],
    ['absolute path', 'restore --source-ref s --revision abc1234 --path /etc'],
    ['restore without path', 'restore --source-ref s --revision abc1234'],
    ['both commit and range', 'revert --source-ref s --commit abc1234 --range abc1234..def5678'],
    ['mainline zero', 'revert --source-ref s --commit abc1234 --mainline 0'],
    ['name and generate-name', 'revert --source-ref s --commit abc1234 --name a --generate-name b-'],
    ['bad name', 'revert --source-ref s --commit abc1234 --name Frontend_Rollback'],
    ['bad generate-name', 'revert --source-ref s --commit abc1234 --generate-name -x'],
    ['bad namespace', 'revert --source-ref s --commit abc1234 --namespace a.b'],
    ['bad author', 'revert --source-ref s --commit abc1234 --author nobody'],
    ['CLI-only option', 'revert --source-ref s --commit abc1234 --cache-dir /tmp/c'],
    ['positional argument', 'revert --source-ref s --commit abc1234 extra'],
  ])('%s is a usage error', (_name, line) => {
    expect(() => build(line)).toThrow(UsageError);
  });

  test('too many commits or too long an incident is refused as the CRD would', () => {
    const commits = Array.from({ length: 101 }, (_, i) => `--commit ${i.toString(16).padStart(7, '0')}`).join(' ');
    expect(() => build(`revert --source-ref s ${commits}`)).toThrow(/At most 100/);
    expect(() => buildRequestManifest(['revert', '--source-ref', 's', '--commit', 'abc1234', '--incident', 'x'.repeat(257)])).toThrow(/longer than 256/);
  });

  test('the error for a symbolic revision says what to give instead', () => {
    expect(() => build('revert --source-ref s --commit HEAD~1')).toThrow('--commit must be a commit sha of 7 to 40 hex characters');
  });
});

describe('formatManifest', () => {
  test('prints YAML that parses back to the manifest, reason with a colon included', () => {
    const manifest = buildRequestManifest(['revert', '--source-ref', 's', '--commit', 'abc1234', '--reason', '500s: "checkout" # down']);
    const text = formatManifest(manifest);
    expect(text.startsWith('apiVersion: rollback.gitops.dev/v1alpha1\nkind: GitOpsRollback\n')).toBe(true);
    expect(parse(text)).toEqual(manifest);
  });
});
