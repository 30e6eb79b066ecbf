// Jest tiers, named by what is real (docs/ARCHITECTURE.md, Conventions):
//   unit        pure code and in-memory/embedded adapters, no network
//   integration each adapter against the real Kafka, Redis and S3 started by scripts/infra.sh
//   e2e         the apps as processes, zoom-sim playing Zoom
const fs = require('node:fs');
const path = require('node:path');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;
const esmToCjs = {
  jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022', keepClassNames: true },
  module: { type: 'commonjs' },
};
const { paths } = JSON.parse(fs.readFileSync(path.join(__dirname, 'tsconfig.base.json'), 'utf8')).compilerOptions;
const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(paths)) {
  moduleNameMapper[`^${alias.replace(/[/.]/g, '\\$&')}$`] = `<rootDir>/${target}`;
}

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcrc],
    // NestJS 12 and @platformatic/kafka ship ES modules; Jest's CommonJS runtime loads them only when compiled
    // (the built apps load them with Node's own require(esm)).
    '/node_modules/@(nestjs|platformatic)/.+\\.js$': ['@swc/jest', esmToCjs],
  },
  transformIgnorePatterns: ['/node_modules/(?!@nestjs/|@platformatic/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

module.exports = {
  reporters: ['default', '<rootDir>/test/support/runtime-reporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,test}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.int-spec.ts', '<rootDir>/test/helm/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      slowTestThreshold: 30,
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      slowTestThreshold: 60,
    },
  ],
};
