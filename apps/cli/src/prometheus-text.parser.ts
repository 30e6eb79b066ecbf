/*
 * A reader for the Prometheus text exposition format (0.0.4), enough for what prom-client writes:
 * `# HELP` / `# TYPE` lines and `name{label="value",...} value [timestamp]` samples with escaped label values.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  /** Metric family name → type, from `# TYPE` lines (families without samples appear only here). */
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type !== null) types.set(type[1]!, type[2]!);
      continue;
    }
    const sample = parseSample(line);
    if (sample !== undefined) samples.push(sample);
  }
  return { samples, types };
}

/** One sample line, or undefined when it is not one (a reader should skip what it does not understand). */
function parseSample(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const labelName = NAME.exec(line.slice(i))?.[0];
      if (labelName === undefined) return undefined;
      i += labelName.length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        i++;
        if (c === '"') break;
        if (c === '\\') {
          const next = line[i++];
          value += next === 'n' ? '\n' : (next ?? '');
        } else {
          value += c;
        }
      }
      labels[labelName] = value;
    }
  }
  const [valueText] = line.slice(i).trim().split(/\s+/);
  if (valueText === undefined || valueText === '') return undefined;
  const value = parseValue(valueText);
  return value === undefined ? undefined : { name, labels, value };
}

function parseValue(text: string): number | undefined {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

/** Whether the exposition mentions the family at all (a labelled counter never incremented has a TYPE line only). */
export function hasFamily(exp: Exposition, name: string): boolean {
  return exp.types.has(name) || exp.samples.some((s) => s.name === name);
}

/** Sum of a family's samples, optionally restricted by a label predicate. */
export function sumOf(
  exp: Exposition,
  name: string,
  where: (labels: Record<string, string>) => boolean = () => true,
): number {
  let total = 0;
  for (const s of exp.samples) if (s.name === name && where(s.labels) && Number.isFinite(s.value)) total += s.value;
  return total;
}

/** Sums grouped by one label (other labels, such as app or service, are added up); zero groups left out. */
export function sumBy(exp: Exposition, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of exp.samples) {
    if (s.name !== name || !Number.isFinite(s.value)) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  for (const [k, v] of Object.entries(out)) if (v === 0) delete out[k];
  return out;
}
