// Lint is part of `npm test`. The module-boundary rule gives the tags of docs/ARCHITECTURE.md (Layout) teeth:
// a domain lib that imports kafkajs, or a feature that imports an app, fails the build.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import nx from '@nx/eslint-plugin';

const clients = ['kafkajs', '@platformatic/kafka', 'ioredis', '@aws-sdk/*'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'dist/**', 'coverage/**', '**/*.js', '**/*.cjs', '**/*.mjs', '.nx/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // Prettier (120 columns, `npm run lint`) wraps code; long strings, templates and comments are split by hand.
      'max-len': ['error', { code: 120 }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': [
        'error',
        { prefer: 'type-imports', fixStyle: 'inline-type-imports', disallowTypeAnnotations: false },
      ],
      // Focused tests silently skip the rest of the suite.
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'Focused tests are not allowed.' },
        { object: 'describe', property: 'only', message: 'Focused tests are not allowed.' },
        { object: 'test', property: 'only', message: 'Focused tests are not allowed.' },
      ],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: ['type:feature', 'type:adapter', 'type:platform', 'type:domain'],
              bannedExternalImports: clients,
            },
            {
              sourceTag: 'type:feature',
              onlyDependOnLibsWithTags: ['type:adapter', 'type:platform', 'type:domain'],
              bannedExternalImports: [...clients, 'undici'],
            },
            { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:platform', 'type:domain'] },
            {
              sourceTag: 'type:platform',
              onlyDependOnLibsWithTags: ['type:platform', 'type:domain'],
              bannedExternalImports: clients,
            },
            {
              sourceTag: 'type:domain',
              onlyDependOnLibsWithTags: ['type:domain'],
              bannedExternalImports: ['@nestjs/*', ...clients, 'undici'],
            },
            {
              sourceTag: 'type:test',
              onlyDependOnLibsWithTags: [
                'type:test',
                'type:app',
                'type:feature',
                'type:adapter',
                'type:platform',
                'type:domain',
              ],
            },
          ],
        },
      ],
    },
  },
  {
    // Pure core: no I/O in domain libs (Temporal bans built-ins in workflows the same way).
    files: [
      'libs/contracts/**/*.ts',
      'libs/zoom-webhook/**/*.ts',
      'libs/canonical/**/*.ts',
      'libs/attendance-core/**/*.ts',
    ],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            'node:fs',
            'fs',
            'node:net',
            'net',
            'node:http',
            'http',
            'node:https',
            'https',
            'node:fs/promises',
            'fs/promises',
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
