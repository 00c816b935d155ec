/**
 * The real-Flux loop shared by `npm run demo` (scripts/demo.ts), `npm run bench:recovery`
 * (bench/recovery.ts) and test/e2e/real-flux.test.ts, on the cluster mode of the test control plane (test/envtest/cluster.ts):
 * a GitOps repository on the git HTTP server, its GitRepository and Kustomization, Deployments
 * that kwok runs (a pod template annotated broken stays unready: a bad image), and
 * notification-controller's part, which cannot be built here: a relay that receives
 * kustomize-controller's events (its --events-addr) and forwards them to the operator's webhook,
 * signed as the `generic-hmac` provider signs them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { signBody } from '../../src/webhook/signature.js';
import { BROKEN_POD_ANNOTATION } from '../envtest/cluster.js';

export type Kubectl = (args: string[], input?: string) => Promise<string>;

/** How a Deployment of the sample fleet is written. */
export interface DeploymentOptions {
  /** The pod template carries the broken annotation: pods Running, never Ready. */
  broken?: boolean;
  replicas?: number;
  /** Omitted: Kubernetes' default (600 s). */
  progressDeadlineSeconds?: number;
}

/** A Deployment `app` running `registry.example/<app>:<version>`. */
export function deployment(app: string, version: string, options: DeploymentOptions = {}): string {
  const deadline = options.progressDeadlineSeconds === undefined ? '' : `  progressDeadlineSeconds: ${options.progressDeadlineSeconds}\n`;
  const broken = options.broken ? `      annotations: {${BROKEN_POD_ANNOTATION}: "true"}\n` : '';
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${app}, labels: {app: ${app}}}
spec:
  replicas: ${options.replicas ?? 1}
${deadline}  selector: {matchLabels: {app: ${app}}}
  template:
    metadata:
      labels: {app: ${app}}
${broken}    spec:
      containers: [{name: ${app}, image: "registry.example/${app}:${version}"}]
`;
}

/** The image a Deployment of {@link deployment} runs at `version`. */
export function imageOf(app: string, version: string): string {
  return `registry.example/${app}:${version}`;
}

export function gitRepositoryYaml(name: string, url: string, secret: string): string {
  return `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ${name}}
spec:
  interval: 1h
  url: ${url}
  ref: {branch: main}
  secretRef: {name: ${secret}}
`;
}

/** A Kustomization that applies `path` and waits for health (`wait: true`) at most `timeout`. */
export function kustomizationYaml(name: string, path: string, source: string, timeout: string): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: ${name}}
spec:
  interval: 1h
  sourceRef: {kind: GitRepository, name: ${source}}
  path: ${path}
  prune: true
  wait: true
  timeout: ${timeout}
`;
}

// ---------------------------------------------------------------------------------------------
// The repository: a work tree and its bare copy on the git server.

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'CI Deploy',
  GIT_AUTHOR_EMAIL: 'ci@example.com',
  GIT_COMMITTER_NAME: 'CI Deploy',
  GIT_COMMITTER_EMAIL: 'ci@example.com',
};

/** Synchronous git on local repositories (never through the in-process HTTP server). */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trimEnd();
}

export class FleetRepo {
  private constructor(
    readonly work: string,
    readonly bare: string,
  ) {}

  /** A repository `<serverRoot>/<name>.git` whose first commit holds `files`. */
  static create(workRoot: string, serverRoot: string, name: string, message: string, files: Record<string, string>): FleetRepo {
    const work = join(workRoot, name);
    mkdirSync(work, { recursive: true });
    git(work, 'init', '-q', '-b', 'main');
    const repo = new FleetRepo(work, join(serverRoot, `${name}.git`));
    repo.write(files);
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', message);
    git(serverRoot, 'clone', '-q', '--bare', work, repo.bare);
    git(repo.bare, 'config', 'http.receivepack', 'true');
    return repo;
  }

  /** Commits `files` (null deletes) and pushes to the server; returns the new commit. */
  push(message: string, files: Record<string, string | null>): string {
    git(this.work, 'pull', '-q', '--ff-only', this.bare, 'main');
    this.write(files);
    git(this.work, 'add', '-A');
    git(this.work, 'commit', '-q', '-m', message);
    git(this.work, 'push', '-q', this.bare, 'HEAD:main');
    return this.head();
  }

  head(): string {
    return git(this.bare, 'rev-parse', 'main');
  }

  private write(files: Record<string, string | null>): void {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.work, path);
      if (content === null) {
        rmSync(full, { force: true });
      } else {
        mkdirSync(dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reading Flux's and Kubernetes' objects

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface FluxKustomization {
  metadata: { generation: number; name: string };
  status?: { observedGeneration?: number; lastAppliedRevision?: string; lastAttemptedRevision?: string; conditions?: Condition[] };
}

export interface DeploymentObject {
  metadata: { generation: number; name: string };
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; readyReplicas?: number };
}

export const revisionOf = (sha: string): string => `main@sha1:${sha}`;

/** `applied`: Ready=True on `sha`; `failed`: Ready=False HealthCheckFailed on it; else undefined. */
export function kustomizationOutcome(k: FluxKustomization | undefined, sha: string): 'applied' | 'failed' | undefined {
  if (!k || k.status?.observedGeneration !== k.metadata.generation) return undefined;
  const ready = k.status.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status === 'True' && k.status.lastAppliedRevision === revisionOf(sha)) return 'applied';
  if (ready?.status === 'False' && ready.reason === 'HealthCheckFailed' && k.status.lastAttemptedRevision === revisionOf(sha)) return 'failed';
  return undefined;
}

/**
 * kustomize-controller applied `sha` and started its health checks (it says so in the Healthy
 * condition, or is already done with it).
 */
export function kustomizationApplied(k: FluxKustomization | undefined, sha: string): boolean {
  if (!k) return false;
  const conditions = k.status?.conditions ?? [];
  const checking = conditions.some(
    (c) => (c.type === 'Healthy' || c.type === 'Reconciling') && c.message?.startsWith(`Running health checks for revision ${revisionOf(sha)}`),
  );
  return checking || kustomizationOutcome(k, sha) !== undefined;
}

/** The Deployment rolled out `image` completely: every replica updated and available. */
export function deploymentHealthy(d: DeploymentObject | undefined, image: string): boolean {
  if (!d || d.status?.observedGeneration !== d.metadata.generation) return false;
  const want = d.spec.replicas ?? 1;
  return (
    d.spec.template.spec.containers[0]?.image === image &&
    d.status.replicas === want &&
    d.status.updatedReplicas === want &&
    d.status.availableReplicas === want
  );
}

// ---------------------------------------------------------------------------------------------
// notification-controller's part

/** An event as kustomize-controller POSTs it (the shape notification-controller receives). */
export interface FluxEvent {
  involvedObject: { kind: string; namespace: string; name: string };
  severity: string;
  reason: string;
  message: string;
  metadata?: Record<string, string>;
}

/** The revision an event is about (v1.9.6 still uses the legacy metadata key). */
export function eventRevision(event: FluxEvent): string | undefined {
  return event.metadata?.['kustomize.toolkit.fluxcd.io/revision'] ?? event.metadata?.revision;
}

/**
 * Receives kustomize-controller's events and forwards the Kustomization events of each routed
 * namespace to its webhook URL with `X-Signature: sha256=<HMAC of the body>`, as
 * notification-controller's generic-hmac provider does. Listeners see every event on arrival.
 */
export class SigningRelay {
  private readonly routes = new Map<string, { url: string; token: string }>();
  /** Every event forwarded, with the webhook's answer (0: no answer). */
  readonly forwarded: { namespace: string; reason: string; revision?: string; status: number }[] = [];
  private readonly listeners = new Set<(event: FluxEvent, receivedAt: number) => void>();
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const receivedAt = Date.now();
        res.writeHead(202).end();
        void this.handle(Buffer.concat(chunks).toString('utf8'), receivedAt);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Forward the events of `namespace` to `url` (a policy's `/hook/flux/<ns>/<policy>`). */
  route(namespace: string, url: string, token: string): void {
    this.routes.set(namespace, { url, token });
  }

  /** Adds a listener; returns the function that removes it. */
  listen(listener: (event: FluxEvent, receivedAt: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async handle(body: string, receivedAt: number): Promise<void> {
    let event: FluxEvent;
    try {
      event = JSON.parse(body) as FluxEvent;
    } catch {
      return;
    }
    for (const listener of this.listeners) listener(event, receivedAt);
    const route = this.routes.get(event.involvedObject?.namespace);
    if (!route || event.involvedObject.kind !== 'Kustomization') return;
    const res = await fetch(route.url, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json', 'X-Signature': signBody(body, route.token) },
    }).catch(() => undefined);
    this.forwarded.push({ namespace: event.involvedObject.namespace, reason: event.reason, revision: eventRevision(event), status: res?.status ?? 0 });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}
