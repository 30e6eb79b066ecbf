export * from './accounts-feature.module';
export * from './accounts.service';
export * from './account-link-events';
export { ACCOUNTS_GROUP_ID, DeauthorizationConsumer } from './deauthorization.consumer';
