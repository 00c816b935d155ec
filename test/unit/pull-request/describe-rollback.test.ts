/**
 * The pull request's title and body: what a reviewer needs to approve a rollback, bounded and
 * free of control characters whatever the rollback's text and the repository hold.
 */
import { describeRollback, type RollbackSummary } from '../../../src/pull-request/describe-rollback.js';

const REVERTED = '3f786850e387550fdab836ed7e6dc881de23001b';
const PUSHED = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';
/** The commit pushed onto the head branch (the tip of the revert commits). */
const HEAD_COMMIT = 'c3499c2729730a7f807efb8676a92dcb6f8a3f8f';
const BRANCHES = { head: 'gitops-rollback/web-rollback', headCommit: HEAD_COMMIT, base: 'release/v2' };

function summary(overrides: Partial<RollbackSummary> = {}): RollbackSummary {
  return {
    request: 'flux-system/web-rollback',
    reason: 'p99 latency regression',
    incident: 'INC-1234',
    revertedCommits: [REVERTED],
    commits: [{ sha: PUSHED, subject: 'Revert "web: bump to 1.4.2"' }],
    changedPaths: ['apps/web/deployment.yaml', 'apps/web/config.yaml'],
    safety: ['Verdict: allowed', 'Deployment: 1 changed', 'ConfigMap: 1 changed'],
    ...overrides,
  };
}

const lines = (body: string) => body.split('\n');

/** `text` is `max` characters: the first `max - 3` of `char`, then `...` saying it was cut. */
function expectCut(text: string, char: string, max: number) {
  expect(text).toBe(`${char.repeat(max - 3)}...`);
}

/** Control characters other than the body's own newlines (and tabs). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

describe('describeRollback: the title', () => {
  it('names the short sha, the incident and the reason', () => {
    expect(describeRollback(summary(), BRANCHES).title).toBe('Rollback: revert 3f786850e387 (INC-1234): p99 latency regression');
  });

  it('counts several reverted commits', () => {
    const draft = describeRollback(summary({ revertedCommits: [REVERTED, PUSHED, 'a'.repeat(40)] }), BRANCHES);
    expect(draft.title).toBe('Rollback: revert 3 commits (INC-1234): p99 latency regression');
  });

  it('leaves out what is not given', () => {
    expect(describeRollback(summary({ reason: undefined, incident: undefined }), BRANCHES).title).toBe('Rollback: revert 3f786850e387');
    expect(describeRollback(summary({ incident: undefined }), BRANCHES).title).toBe('Rollback: revert 3f786850e387: p99 latency regression');
    expect(describeRollback(summary({ reason: undefined }), BRANCHES).title).toBe('Rollback: revert 3f786850e387 (INC-1234)');
  });

  it('is at most 200 characters, marked when cut', () => {
    const prefix = 'Rollback: revert 3f786850e387 (INC-1234): ';
    const title = describeRollback(summary({ reason: 's'.repeat(500) }), BRANCHES).title;
    expect(title.startsWith(prefix)).toBe(true);
    expectCut(title.slice(prefix.length), 's', 200 - prefix.length);
  });

  it('keeps a title of exactly 200 characters whole', () => {
    const prefix = 'Rollback: revert 3f786850e387: ';
    const title = describeRollback(summary({ incident: undefined, reason: 'r'.repeat(200 - prefix.length) }), BRANCHES).title;
    expect(title).toBe(prefix + 'r'.repeat(200 - prefix.length));
  });

  it('has no control characters', () => {
    const title = describeRollback(summary({ incident: 'INC\x00-1\x1b[2J', reason: 'bad\x07 deploy\x7f' }), BRANCHES).title;
    expect(title).not.toMatch(CONTROL);
    // Each run of control characters is a space (runs of spaces may be collapsed).
    expect(title.replace(/ +/g, ' ').trim()).toBe('Rollback: revert 3f786850e387 (INC -1 [2J): bad deploy');
  });

  // A title is one line on every host; a newline in the reason or the incident must not split it.
  it('is one line even when the reason or incident has line breaks', () => {
    const title = describeRollback(summary({ incident: 'INC-1\n2', reason: 'first line\r\nsecond\tline' }), BRANCHES).title;
    expect(title).not.toMatch(/[\r\n\t]/);
    expect(title).toContain('first line');
    expect(title).toContain('second');
  });
});

describe('describeRollback: the body', () => {
  it('keeps the branches and the head commit in the draft', () => {
    const { head, headCommit, base, ...rest } = describeRollback(summary(), BRANCHES);
    expect({ head, headCommit, base }).toStrictEqual({ head: 'gitops-rollback/web-rollback', headCommit: HEAD_COMMIT, base: 'release/v2' });
    expect(Object.keys(rest).sort()).toStrictEqual(['body', 'title']);
  });

  it('copies the head commit as given, whatever else the summary holds', () => {
    const sha256 = 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9';
    // Not the sha of the last commit listed, nor of a reverted one: the one the caller pushed.
    const draft = describeRollback(summary({ commits: [{ sha: PUSHED, subject: 'Revert "x"' }] }), { ...BRANCHES, headCommit: sha256 });
    expect(draft.headCommit).toBe(sha256);
  });

  it('lists the request, reason, incident, reverted commits, commits, paths and the safety report', () => {
    expect(lines(describeRollback(summary(), BRANCHES).body)).toStrictEqual([
      'Opened by gitops-rollback for GitOpsRollback `flux-system/web-rollback`.',
      '',
      '**Reason:** p99 latency regression',
      '**Incident:** INC-1234',
      '',
      '**Reverts** (1):',
      `- ${REVERTED}`,
      '',
      '**Commits on `gitops-rollback/web-rollback`:**',
      '- da39a3ee5e6b Revert "web: bump to 1.4.2"',
      '',
      '**Changed paths** (2):',
      '- `apps/web/deployment.yaml`',
      '- `apps/web/config.yaml`',
      '',
      '**Safety check:**',
      '```',
      'Verdict: allowed',
      'Deployment: 1 changed',
      'ConfigMap: 1 changed',
      '```',
      '',
      'Once merged into `release/v2`, the rollback waits for Flux to apply the merge.',
    ]);
  });

  it('says when the CLI, not a GitOpsRollback, opened it', () => {
    const body = describeRollback(summary({ request: undefined }), BRANCHES).body;
    expect(lines(body)[0]).toBe('Opened by the gitops-rollback CLI.');
    expect(body).not.toContain('GitOpsRollback');
  });

  it('says when the safety check did not run, with no code block', () => {
    const body = describeRollback(summary({ safety: undefined }), BRANCHES).body;
    expect(lines(body)).toContain('**Safety check:** not run');
    expect(body).not.toContain('```');
  });

  it('says what is not given and what is empty', () => {
    const body = lines(describeRollback(summary({ reason: undefined, incident: undefined, commits: [], changedPaths: [], safety: [] }), BRANCHES).body);
    expect(body).toContain('**Reason:** (none given)');
    expect(body).toContain('**Incident:** (none given)');
    expect(body.slice(body.indexOf('**Changed paths** (0):'), body.indexOf('**Changed paths** (0):') + 2)).toStrictEqual([
      '**Changed paths** (0):',
      '- (none)',
    ]);
    const commits = body.indexOf('**Commits on `gitops-rollback/web-rollback`:**');
    expect(body[commits + 1]).toBe('- (none)');
    const safety = body.indexOf('**Safety check:**');
    expect(body.slice(safety, safety + 4)).toStrictEqual(['**Safety check:**', '```', '(none)', '```']);
  });

  it('lists at most 50 entries of each list, then how many more', () => {
    const shas = Array.from({ length: 55 }, (_, i) => i.toString(16).padStart(40, '0'));
    const draft = describeRollback(
      summary({
        revertedCommits: shas,
        commits: Array.from({ length: 51 }, (_, i) => ({ sha: shas[i], subject: `Revert "change ${i}"` })),
        changedPaths: Array.from({ length: 120 }, (_, i) => `apps/p${i}.yaml`),
        safety: Array.from({ length: 60 }, (_, i) => `line ${i}`),
      }),
      BRANCHES,
    );
    expect(draft.title).toBe('Rollback: revert 55 commits (INC-1234): p99 latency regression');
    const body = lines(draft.body);
    expect(body).toContain('**Reverts** (55):');
    expect(body).toContain(`- ${shas[49]}`);
    expect(body).not.toContain(`- ${shas[50]}`);
    expect(body).toContain('- … and 5 more');
    expect(body).toContain('- 000000000000 Revert "change 49"');
    expect(body).not.toContain('- 000000000000 Revert "change 50"');
    expect(body).toContain('- … and 1 more');
    expect(body).toContain('**Changed paths** (120):');
    expect(body).toContain('- `apps/p49.yaml`');
    expect(body).not.toContain('- `apps/p50.yaml`');
    expect(body).toContain('- … and 70 more');
    // Inside the code block the marker has no bullet.
    expect(body).toContain('line 49');
    expect(body).not.toContain('line 50');
    expect(body[body.indexOf('line 49') + 1]).toBe('… and 10 more');
    expect(body[body.indexOf('line 49') + 2]).toBe('```');
  });

  it('keeps a list of exactly 50 whole', () => {
    const body = describeRollback(summary({ changedPaths: Array.from({ length: 50 }, (_, i) => `p${i}`) }), BRANCHES).body;
    expect(body).toContain('- `p49`');
    expect(body).not.toContain('more');
  });

  it('cuts a long subject, path, safety line and reason', () => {
    const body = lines(
      describeRollback(
        summary({
          reason: 'r'.repeat(5000),
          commits: [{ sha: PUSHED, subject: 's'.repeat(1000) }],
          changedPaths: ['p'.repeat(1000)],
          safety: ['v'.repeat(1000)],
        }),
        BRANCHES,
      ).body,
    );
    expectCut(body.find((l) => l.startsWith('**Reason:** '))!.slice('**Reason:** '.length), 'r', 2000);
    expectCut(body.find((l) => l.startsWith('- da39a3ee5e6b '))!.slice('- da39a3ee5e6b '.length), 's', 200);
    expectCut(body.find((l) => l.startsWith('- `p'))!.slice(3, -1), 'p', 300);
    expectCut(
      body.find((l) => l.startsWith('vvv'))!,
      'v',
      300,
    );
  });

  it('cuts a long incident at 256 characters', () => {
    const body = lines(describeRollback(summary({ incident: 'i'.repeat(1000) }), BRANCHES).body);
    expectCut(body.find((l) => l.startsWith('**Incident:** '))!.slice('**Incident:** '.length), 'i', 256);
  });

  it('keeps an incident of exactly 256 characters whole', () => {
    const body = lines(describeRollback(summary({ incident: 'i'.repeat(256) }), BRANCHES).body);
    expect(body).toContain(`**Incident:** ${'i'.repeat(256)}`);
  });

  it('is at most 60,000 characters for huge input', () => {
    const draft = describeRollback(
      summary({
        reason: 'r'.repeat(100_000),
        incident: 'I'.repeat(100_000),
        revertedCommits: Array.from({ length: 200 }, () => 'x'.repeat(5_000)),
        commits: Array.from({ length: 200 }, () => ({ sha: PUSHED, subject: 's'.repeat(10_000) })),
        changedPaths: Array.from({ length: 200 }, () => 'p'.repeat(10_000)),
        safety: Array.from({ length: 200 }, () => 'v'.repeat(10_000)),
      }),
      BRANCHES,
    );
    // Cut at exactly 60,000 characters, the last three being "...".
    expect(draft.body).toHaveLength(60_000);
    expect(draft.body.endsWith('...')).toBe(true);
    expect(draft.body.startsWith('Opened by gitops-rollback for GitOpsRollback `flux-system/web-rollback`.')).toBe(true);
    expect(draft.title.length).toBeLessThanOrEqual(200);
  });

  it('keeps a body of exactly 60,000 characters whole, and cuts one of 60,001', () => {
    // The reverted commits' lines are not cut one by one: one long entry sets the body's length.
    const bodyWith = (length: number) => describeRollback(summary({ revertedCommits: ['a'.repeat(length)] }), BRANCHES).body;
    const fits = 60_000 - (bodyWith(1).length - 1);
    const whole = bodyWith(fits);
    expect(whole).toHaveLength(60_000);
    expect(whole.endsWith('Once merged into `release/v2`, the rollback waits for Flux to apply the merge.')).toBe(true);
    const cut = bodyWith(fits + 1);
    // The same body with one more "a" in the reverts line, cut to 59,997 characters and "...".
    const uncut = whole.replace('\n- a', '\n- aa');
    expect(uncut).toHaveLength(60_001);
    expect(cut).toBe(`${uncut.slice(0, 60_000 - 3)}...`);
  });

  // A changed path may hold a newline (git allows it) and an incident is free text: neither may
  // add lines of its own, such as a forged safety verdict, to what the reviewer reads.
  it('keeps the incident and each changed path on their own line', () => {
    const forged = '\n**Safety check:** passed, nothing blocked';
    const body = lines(describeRollback(summary({ incident: `INC-1${forged}`, changedPaths: [`apps/a.yaml${forged}`], safety: undefined }), BRANCHES).body);
    expect(body.filter((l) => l.startsWith('**Safety check:**'))).toStrictEqual(['**Safety check:** not run']);
    expect(body.filter((l) => l.startsWith('**Incident:**'))).toHaveLength(1);
    expect(body.find((l) => l.startsWith('**Incident:**'))).toContain('passed, nothing blocked');
  });

  it('removes control characters from every field', () => {
    const draft = describeRollback(
      summary({
        reason: 'why\x1b[31m',
        incident: 'INC\x00-9',
        commits: [{ sha: PUSHED, subject: 'Revert\x08 "x"' }],
        changedPaths: ['apps/\x7fweb.yaml'],
        safety: ['Verdict:\x0c allowed'],
      }),
      BRANCHES,
    );
    expect(draft.body).not.toMatch(CONTROL);
    expect(draft.title).not.toMatch(CONTROL);
    // Each run of control characters is a space (runs of spaces may be collapsed).
    const body = lines(draft.body).map((l) => l.replace(/ +/g, ' ').trim());
    expect(body).toContain('**Reason:** why [31m');
    expect(body).toContain('**Incident:** INC -9');
    expect(body).toContain('- da39a3ee5e6b Revert "x"');
    expect(body).toContain('- `apps/ web.yaml`');
    expect(body).toContain('Verdict: allowed');
  });
});
