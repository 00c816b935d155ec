import { classifyPushRefusal } from '../../../src/git/push-refusal.js';
import { classifyError } from '../../../src/controller/classify-error.js';
import { PushRejectedError } from '../../../src/git/errors.js';

/** Refusals as the hosts word them (their documentation and what their servers send back). */
const HOST_MESSAGES: [string, string, string][] = [
  [
    'GitHub, signatures required',
    'protected branch hook declined (remote: error: GH006: Protected branch update failed for refs/heads/main.; remote: error: Commits must have verified signatures.)',
    'signature-required',
  ],
  [
    'GitHub, pull request required',
    'protected branch hook declined (remote: error: GH006: Protected branch update failed for refs/heads/main.; remote: error: Changes must be made through a pull request.)',
    'pull-request-required',
  ],
  [
    'GitHub, required status checks',
    'protected branch hook declined (remote: error: GH006: Protected branch update failed for refs/heads/main.; remote: error: Required status check "ci" is expected.)',
    'branch-protected',
  ],
  [
    'GitHub rulesets',
    'push declined due to repository rule violations (remote: error: GH013: Repository rule violations found for refs/heads/main.)',
    'branch-protected',
  ],
  [
    'GitLab protected branch',
    'pre-receive hook declined (remote: GitLab: You are not allowed to push code to protected branches on this project.)',
    'branch-protected',
  ],
  ['GitLab push rule', 'pre-receive hook declined (remote: GitLab: Commit must be signed with a GPG key)', 'signature-required'],
  ['Azure DevOps', 'TF402455: Pushes to this branch are not permitted; you must use a pull request to update this branch.', 'pull-request-required'],
  ['Gitea', 'pre-receive hook declined (remote: Gitea: Not allowed to push to protected branch main)', 'branch-protected'],
  ['a plain hook', 'pre-receive hook declined (remote: main is frozen during incident INC-42)', 'hook-declined'],
  ['the branch moved', 'non-fast-forward', 'raced'],
  ['stale', 'stale: branch moved', 'raced'],
  ['anything else', 'funny refname', 'rejected'],
];

describe('refused pushes, classified from the host message', () => {
  test.each(HOST_MESSAGES)('%s', (_host, reason, kind) => {
    expect(classifyPushRefusal(reason).kind).toBe(kind);
  });

  test.each([
    ['signature-required', 'SignatureRequired', 'spec.signing'],
    ['pull-request-required', 'PullRequestRequired', 'pull request'],
    ['branch-protected', 'BranchProtected', "rollback's identity"],
  ])('the operator stalls a %s refusal with reason %s and says what to do', (kind, reason, advice) => {
    const message = HOST_MESSAGES.find(([, , k]) => k === kind)![1];
    const classified = classifyError(new PushRejectedError({ ref: 'refs/heads/main', reason: message }));
    expect(classified).toMatchObject({ stalling: true, reason });
    expect(classified.message).toContain(message);
    expect(classified.message).toContain(advice);
  });

  test('a moved branch is retried, a plain hook refusal stalls as PushRejected', () => {
    expect(classifyError(new PushRejectedError({ ref: 'refs/heads/main', reason: 'fetch first' }))).toMatchObject({ stalling: false, reason: 'PushRaced' });
    expect(classifyError(new PushRejectedError({ ref: 'refs/heads/main', reason: 'pre-receive hook declined' }))).toMatchObject({
      stalling: true,
      reason: 'PushRejected',
    });
  });
});
