// ESLint flat config. Besides style, it enforces the dependency direction of docs/architecture.md:
// the engine rooms (git, safety, api) never reach into Kubernetes or the controller.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const kubernetesCode = ['@kubernetes/*', '**/kube/**', '**/controller/**', '**/flux/**', '**/webhook/**', '**/metrics/**', '**/cli/**'];

export default tseslint.config(
  { ignores: ['dist/**', 'dist-tools/**', 'dist-bench/**', 'node_modules/**', 'coverage/**', '.cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/git/**/*.ts', 'src/safety/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: kubernetesCode, message: 'src/git and src/safety know nothing of Kubernetes, the controller or the CLI (docs/architecture.md).' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['../../*', '!../../api/*'], message: 'src/api is pure data and imports nothing of ours.' }],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { property: 'makeApiClient', message: 'Use createApiClient (src/kube/client.ts): every API client gets the request-timeout policy.' },
      ],
    },
  },
  {
    // Set-up beside each controller (Flux's SetupWithManager) wires kube and metrics objects;
    // the reconcilers and decisions reach Kubernetes only through their ports.
    files: ['src/controller/**/*.ts'],
    ignores: ['src/controller/setup-*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@kubernetes/*', '**/kube/**', '**/metrics/**', '**/cli/**'],
              message: 'Only src/controller/setup-*.ts wires kube and metrics objects; the rest of the controller speaks through ports (docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/controller/setup-*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/cli/**'], message: 'The controller never imports the CLI.' }] }],
    },
  },
  {
    files: ['src/kube/**/*.ts', 'src/flux/**/*.ts', 'src/metrics/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['**/controller/**', '**/cli/**'], message: 'kube, flux and metrics never import the controller or the CLI.' }],
        },
      ],
    },
  },
);
