/**
 * Runs Debian's Prometheus (/usr/bin/prometheus) on loopback for tests: a temporary config that
 * scrapes the given targets every second and evaluates the given rule files every second,
 * temporary storage, and a small client for its HTTP query API.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { eventually } from './eventually.js';
import { makeTempDir } from './git-cli.js';
import { freePort } from './operator-process.js';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';

export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** An instant query; rejects unless Prometheus answers status "success" with a vector. */
  query(expr: string): Promise<PrometheusSample[]>;
  /** Everything Prometheus printed. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` (host:port) as job `job`; resolves once /-/ready answers.
 * With `bearerToken`, it scrapes with that token, read from a file as in a pod (credentials_file).
 */
export async function startPrometheus(options: { job: string; targets: string[]; ruleFiles?: string[]; bearerToken?: string }): Promise<PrometheusServer> {
  const dir = makeTempDir();
  const tokenFile = path.join(dir, 'token');
  if (options.bearerToken) fs.writeFileSync(tokenFile, options.bearerToken, { mode: 0o600 });
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...(options.ruleFiles ?? []).map((file) => `  - ${JSON.stringify(path.resolve(file))}`),
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(options.job)}`,
    ...(options.bearerToken ? ['    authorization:', '      type: Bearer', `      credentials_file: ${JSON.stringify(tokenFile)}`] : []),
    '    static_configs:',
    `      - targets: ${JSON.stringify(options.targets)}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const server: PrometheusServer = {
    url,
    logs: () => output,
    query: async (expr) => {
      const response = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
      const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: PrometheusSample[] } };
      if (body.status !== 'success') throw new Error(`Query failed: ${body.error}\n${expr}`);
      if (body.data!.resultType !== 'vector') throw new Error(`Expected a vector, got ${body.data!.resultType}: ${expr}`);
      return body.data!.result;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await eventually('Prometheus to answer /-/ready', () => fetch(`${url}/-/ready`).then((r) => r.ok), {
      timeoutMs: 60_000,
      abort: exited.then(() => `Prometheus exited with ${child.exitCode}`),
      diagnostics: () => output,
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Waits until every scrape target was scraped after `timeMs` (epoch ms) and every rule group was
 * evaluated on that scrape's samples: a scrape that started after `timeMs`, then a later scrape
 * (so the first one's samples are stored), then an evaluation after that. From then on, queries
 * and recorded rules reflect everything the targets exposed at `timeMs`.
 */
export async function waitForRulesOnScrapeAfter(prometheus: Pick<PrometheusServer, 'url' | 'logs'>, timeMs: number): Promise<void> {
  const api = async <T>(path: string): Promise<T> => ((await (await fetch(`${prometheus.url}${path}`)).json()) as { data: T }).data;
  const scrapes = async (): Promise<number[]> =>
    (await api<{ activeTargets: { lastScrape: string }[] }>('/api/v1/targets?state=active')).activeTargets.map((t) => Date.parse(t.lastScrape));
  const options = { intervalMs: 250, diagnostics: () => prometheus.logs().slice(-2000) };
  const firstAfter = await eventually(
    'a scrape of every target after the event',
    async () => {
      const times = await scrapes();
      return times.length > 0 && times.every((t) => t > timeMs) ? Math.max(...times) : undefined;
    },
    options,
  );
  const stored = await eventually(
    'the next scrape of every target',
    async () => {
      const times = await scrapes();
      return times.every((t) => t > firstAfter) ? Math.max(...times) : undefined;
    },
    options,
  );
  await eventually(
    'a rule evaluation after that scrape',
    async () => {
      const groups = (await api<{ groups: { lastEvaluation: string }[] }>('/api/v1/rules')).groups;
      return groups.every((g) => Date.parse(g.lastEvaluation) > stored);
    },
    options,
  );
}
