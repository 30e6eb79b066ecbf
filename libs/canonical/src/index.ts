import { CONTRACTS_VERSION } from '@zoom-pipeline/contracts';
export const X = CONTRACTS_VERSION;
