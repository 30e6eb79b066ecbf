/** Thrown by the validators at a consuming edge; the consumer maps it to a dead letter (never retried). */
export class ContractViolation extends Error {
  readonly code = 'contract_violation';
  constructor(
    readonly contract: string,
    readonly field: string,
    why: string,
  ) {
    super(`${contract}: ${field} ${why}`);
    this.name = 'ContractViolation';
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function asObject(contract: string, field: string, v: unknown): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new ContractViolation(contract, field, 'must be an object');
  return v as Record<string, unknown>;
}
export function str(contract: string, o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (typeof v !== 'string') throw new ContractViolation(contract, field, 'must be a string');
  return v;
}
export function optStr(contract: string, o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ContractViolation(contract, field, 'must be a string when present');
  return v;
}
export function num(contract: string, o: Record<string, unknown>, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ContractViolation(contract, field, 'must be a finite number');
  return v;
}
export function parseJson(contract: string, bytes: Buffer | string, field = '(value)'): unknown {
  try {
    return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch {
    throw new ContractViolation(contract, field, 'is not JSON');
  }
}

/** The bytes a JSON contract value travels as on the bus (UTF-8 JSON, no BOM): one encoder for every topic. */
export function encodeJson<T extends object>(value: T): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}
