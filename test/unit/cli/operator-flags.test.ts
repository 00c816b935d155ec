/** The operator's command line: typed values, defaults as before, clear errors, --help. */
import { describeDefault, FlagError } from '../../../src/cli/flags/parse-flags.js';
import { formatOperatorHelp, OPERATOR_FLAGS, parseOperatorFlags, type OperatorOptions } from '../../../src/cli/operator-flags.js';

/** The options of a command line that must parse (no POD_NAMESPACE unless given). */
function parse(args: string[], env: NodeJS.ProcessEnv = {}): OperatorOptions {
  const parsed = parseOperatorFlags(args, env);
  if (parsed.help) throw new Error('asked for help');
  return parsed.options;
}

/** The FlagError a command line stops with. */
function refusal(args: string[], env: NodeJS.ProcessEnv = {}): FlagError {
  try {
    parseOperatorFlags(args, env);
  } catch (error) {
    if (error instanceof FlagError) return error;
    throw error;
  }
  throw new Error(`${args.join(' ')} was accepted`);
}

describe('operator flags', () => {
  test('without flags every option has the default it had before the flags were typed', () => {
    expect(parse([])).toEqual({
      kubeconfig: undefined,
      watchNamespace: undefined,
      leaderElect: false,
      leaderElectionNamespace: undefined,
      leaderElectionId: 'gitops-rollback-leader',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      concurrent: 4,
      applyPollIntervalMs: 2_000,
      mergePollIntervalMs: 30_000,
      rollbackHistoryLimit: 10,
      shutdownTimeoutMs: 30_000,
      cacheDir: '/var/cache/gitops-rollback',
      cacheMaxBytes: 1024 ** 3,
      cachePrefetchIntervalMs: 600_000,
      cachePrefetchSelector: undefined,
      engineDeadlineMs: 600_000,
      engineMemoryLimitMb: 256,
      gitTimeoutMs: 60_000,
      gitDeadlineMs: 300_000,
      gitMaxPackBytes: 128 * 1024 ** 2,
      gitMaxObjectBytes: 32 * 1024 ** 2,
      allowPrivateGitHosts: false,
      allowInsecureHttp: false,
      gitAllowedHosts: [],
      protectedKinds: [],
      allowCrossNamespaceRefs: false,
      allowCrossNamespacePolicies: false,
      healthProbeAddress: { host: undefined, port: 8081 },
      metricsAddress: { host: undefined, port: 8080 },
      metricsAuth: true,
      webhookAddress: { host: undefined, port: 9292 },
      logLevel: 'info',
    });
  });

  test.each<[string, string[], Partial<OperatorOptions>]>([
    ['a duration in Go syntax', ['--git-timeout=1h30m'], { gitTimeoutMs: 5_400_000 }],
    ['the merge poll interval', ['--merge-poll-interval=1m'], { mergePollIntervalMs: 60_000 }],
    ['milliseconds', ['--apply-poll-interval=500ms'], { applyPollIntervalMs: 500 }],
    ['bare seconds, as before', ['--git-timeout=5'], { gitTimeoutMs: 5_000 }],
    ['fractional bare seconds', ['--apply-poll-interval=0.2'], { applyPollIntervalMs: 200 }],
    ['a zero drain time', ['--shutdown-timeout=0'], { shutdownTimeoutMs: 0 }],
    ['a byte size with a suffix', ['--cache-max-bytes=1Gi'], { cacheMaxBytes: 1024 ** 3 }],
    ['plain bytes', ['--git-max-pack-size=1000'], { gitMaxPackBytes: 1000 }],
    ['a zero cache budget, as before', ['--cache-max-bytes=0'], { cacheMaxBytes: 0 }],
    ['an integer', ['--concurrent=8'], { concurrent: 8 }],
    ['a history limit of 0 (keep all)', ['--rollback-history-limit=0'], { rollbackHistoryLimit: 0 }],
    ['a bind address with a host', ['--metrics-bind-address=127.0.0.1:9000'], { metricsAddress: { host: '127.0.0.1', port: 9000 } }],
    ['0 turning a server off', ['--webhook-bind-address=0'], { webhookAddress: 'off' }],
    ['a comma list, trimmed', ['--safety-protected-kinds=ConfigMap, Secret,'], { protectedKinds: ['ConfigMap', 'Secret'] }],
    ['a log level', ['--log-level=debug'], { logLevel: 'debug' }],
    ['a string with a space before its value', ['--watch-namespace', 'team-a'], { watchNamespace: 'team-a' }],
  ])('reads %s: %s', (_, args, expected) => {
    expect(parse(args)).toMatchObject(expected);
  });

  test.each([
    ['--git-timeout=abc', '--git-timeout: invalid value "abc": expected a duration such as 90s, 5m, 1h30m or 500ms, or a number of seconds, above 0'],
    ['--git-timeout=0', '--git-timeout: invalid value "0"'],
    ['--engine-deadline=-5', '--engine-deadline: invalid value "-5"'],
    ['--git-deadline=5d', '--git-deadline: invalid value "5d"'],
    [
      '--shutdown-timeout=1000h',
      '--shutdown-timeout: invalid value "1000h": expected a duration such as 90s, 5m, 1h30m or 500ms, or a number of seconds, at most 596h',
    ],
    ['--concurrent=0', '--concurrent: invalid value "0": expected a whole number of at least 1'],
    ['--concurrent=2.5', '--concurrent: invalid value "2.5"'],
    ['--engine-memory-limit=lots', '--engine-memory-limit: invalid value "lots"'],
    ['--rollback-history-limit=-1', '--rollback-history-limit: invalid value "-1"'],
    ['--cache-max-bytes=1GB', '--cache-max-bytes: invalid value "1GB": expected bytes, or a number with Ki, Mi or Gi (e.g. 128Mi)'],
    ['--git-max-object-size=0', '--git-max-object-size: invalid value "0": expected bytes, or a number with Ki, Mi or Gi (e.g. 128Mi), above 0'],
    ['--health-probe-bind-address=0', '--health-probe-bind-address: invalid value "0": expected [host]:port'],
    ['--metrics-bind-address=8080', '--metrics-bind-address: invalid value "8080": expected [host]:port, or 0 to turn it off'],
    ['--webhook-bind-address=:99999', '--webhook-bind-address: invalid value ":99999"'],
    ['--log-level=loud', '--log-level: invalid value "loud": expected one of trace, debug, info, warn, error, fatal, silent'],
    ['--no-such-flag', '--no-such-flag: unknown flag'],
    ['-x', '-x: unknown flag'],
    ['--no-concurrent', '--no-concurrent: unknown flag'],
    ['--concurrent', '--concurrent: needs a value (expected a whole number of at least 1); write --concurrent=VALUE'],
    ['--kubeconfig --leader-elect', '--kubeconfig: needs a value'],
    ['--leader-elect=true', '--leader-elect: takes no value (write --leader-elect or --no-leader-elect)'],
    ['reconcile', 'reconcile: unexpected argument'],
  ])('%s is refused with a message naming the flag', (args, message) => {
    const error = refusal(args.split(' '));
    expect(error.message.startsWith(message)).toBe(true);
    expect(error.message).not.toContain('\n');
    expect(error).toMatchObject({ code: 'FlagError', name: 'FlagError' });
  });

  test('a long bad value is cut in the message', () => {
    expect(refusal([`--log-level=${'x'.repeat(10_000)}`]).message.length).toBeLessThan(300);
  });

  test('the last of --x and --no-x wins', () => {
    expect(parse(['--allow-private-git-hosts', '--no-allow-private-git-hosts'])).toMatchObject({ allowPrivateGitHosts: false });
    expect(parse(['--no-allow-insecure-http', '--allow-insecure-http'])).toMatchObject({ allowInsecureHttp: true });
    expect(parse(['--no-metrics-auth'])).toMatchObject({ metricsAuth: false });
  });

  test('a repeated value flag keeps the last value', () => {
    expect(parse(['--concurrent=2', '--concurrent=3'])).toMatchObject({ concurrent: 3 });
  });

  describe('leader election', () => {
    test('the Lease timings are configurable', () => {
      expect(parse(['--leader-election-lease-duration=60s', '--leader-election-renew-deadline=40s', '--leader-election-retry-period=500ms'])).toMatchObject({
        leaseDurationMs: 60_000,
        renewDeadlineMs: 40_000,
        retryPeriodMs: 500,
      });
    });

    test.each([
      [['--leader-election-renew-deadline=15s'], '--leader-election-lease-duration: must be longer than --leader-election-renew-deadline (15s <= 15s)'],
      [['--leader-election-retry-period=10s'], '--leader-election-renew-deadline: must be longer than --leader-election-retry-period (10s <= 10s)'],
      [['--leader-election-lease-duration=15500ms'], '--leader-election-lease-duration: must be whole seconds (got 15s500ms)'],
    ])('timings that do not nest as lease > renew > retry are refused: %s', (args, message) => {
      expect(refusal(args).message).toBe(message);
    });

    test('--leader-elect takes the Lease namespace from the flag, else from POD_NAMESPACE', () => {
      expect(parse(['--leader-elect', '--leader-election-namespace=ops'], { POD_NAMESPACE: 'pod-ns' })).toMatchObject({ leaderElectionNamespace: 'ops' });
      expect(parse(['--leader-elect'], { POD_NAMESPACE: 'pod-ns' })).toMatchObject({ leaderElectionNamespace: 'pod-ns' });
      expect(refusal(['--leader-elect']).message).toBe('--leader-elect: needs --leader-election-namespace or POD_NAMESPACE');
    });
  });

  describe('--help', () => {
    test.each([[['--help']], [['-h']], [['--concurrent=0', '--help']]])('%j asks for help, whatever else is given', (args) => {
      expect(parseOperatorFlags(args, {})).toEqual({ help: true });
    });

    test('the help lists every flag once, with its help and default, under its group', () => {
      const help = formatOperatorHelp();
      // Each entry starts at "  --flag" and runs to the next one; wrapped lines are joined.
      const entries = help.split(/\n(?= {2}--)|\n\n/).map((entry) => entry.replace(/\s+/g, ' ').trim());
      for (const spec of Object.values(OPERATOR_FLAGS)) {
        const entry = entries.filter((e) => e.startsWith(`--${spec.flag} `));
        expect(entry).toHaveLength(1);
        expect(entry[0]).toContain(spec.help);
        expect(entry[0].endsWith(`(default: ${describeDefault(spec)})`)).toBe(true);
      }
      expect(help).toMatch(/^Kubernetes & leader election:\n {2}--kubeconfig string /m);
      expect(help).toMatch(/^Git network:\n {2}--git-timeout duration +Inactivity limit/m);
      for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    });
  });
});
