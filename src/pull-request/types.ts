/**
 * What every pull-request client offers: open one (or find the one already open for the same
 * branches), and read where it stands. GitLab's merge requests are pull requests here.
 */
export interface PullRequestDraft {
  /** The branch holding the revert. */
  head: string;
  /** The commit pushed onto it: a pull request of these branches is reused only when its head is this commit. */
  headCommit: string;
  /** The branch it should be merged into. */
  base: string;
  title: string;
  body: string;
}

export type PullRequestState = 'Open' | 'Merged' | 'Closed';

export interface PullRequestInfo {
  /** GitHub/Gitea: the pull request number; GitLab: the merge request iid. */
  number: number;
  /** The page a person opens. */
  url: string;
  state: PullRequestState;
  /** Once merged: the commit the target branch points at because of the merge. */
  mergeCommit?: string;
}

export interface PullRequestClient {
  /**
   * The open pull request from `draft.head` into `draft.base` whose head is `draft.headCommit`
   * (opened before a restart), else a new one: a closed or merged pull request of a reused branch
   * name is never adopted.
   */
  open(draft: PullRequestDraft): Promise<PullRequestInfo>;
  get(number: number): Promise<PullRequestInfo>;
}
