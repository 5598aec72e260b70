import { PolicyFile } from './language.js';

interface Node {
  type?: string;
  anyOf?: Node[];
  items?: Node;
  properties?: Record<string, Node>;
  additionalProperties?: Node | boolean;
  patternProperties?: Record<string, Node>;
  required?: string[];
  description?: string;
  const?: unknown;
  enum?: unknown[];
  $ref?: string;
  $defs?: Record<string, Node>;
  $id?: string;
}

const BEGIN = '<!-- BEGIN GENERATED REFERENCE (npm run schema:policy) -->';
const END = '<!-- END GENERATED REFERENCE -->';

function typeOf(n: Node): string {
  if (n.$ref) return n.$ref;
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (n.anyOf) return n.anyOf.map(typeOf).join(' \\| ');
  if (n.type === 'array') return `list of ${n.items ? typeOf(n.items) : 'any'}`;
  if (n.type === 'object' && n.patternProperties) return 'map';
  if (n.type === 'object' && n.properties) return 'object';
  return n.type ?? 'any';
}

function describe(n: Node): string {
  return (n.description ?? n.anyOf?.find((a) => a.description)?.description ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

/** Objects worth a table of their own, found by walking the schema. */
function sections(root: Node): Array<[string, Node]> {
  const out: Array<[string, Node]> = [];
  const visit = (title: string, n: Node | undefined) => {
    if (!n) return;
    if (n.properties && !out.some(([t, o]) => o === n || t === title)) {
      out.push([title, n]);
      for (const [k, v] of Object.entries(n.properties)) visit(`${title}.${k}`, v);
    }
    for (const a of n.anyOf ?? []) visit(title, a);
    if (n.items) visit(title, n.items);
    for (const v of Object.values(n.patternProperties ?? {})) visit(`${title}.*`, v);
  };
  visit('file', root);
  for (const [k, v] of Object.entries(root.$defs ?? {})) visit(k, v);
  return out;
}

/** Columns padded the way the formatter (biome) lays them out, so `npm run format` leaves the file alone. */
function markdownTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Markdown tables of every object in the policy schema: key, type, meaning. */
export function policyReferenceMarkdown(): string {
  const root = JSON.parse(JSON.stringify(PolicyFile)) as Node;
  const parts = sections(root).map(([title, n]) => {
    const rows = Object.entries(n.properties ?? {}).map(([k, v]) => [`\`${k}\``, typeOf(v), describe(v)]);
    const intro = n.description ? `${n.description}\n\n` : '';
    return `### \`${title}\`\n\n${intro}${markdownTable(['key', 'type', 'meaning'], rows)}\n`;
  });
  return parts.join('\n');
}

/** Replaces the generated block of docs/policy.md, leaving the hand-written text alone. */
export function spliceReference(doc: string, generated: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/policy.md lacks the ${BEGIN} … ${END} markers`);
  return `${doc.slice(0, a + BEGIN.length)}\n\n${generated}\n${doc.slice(b)}`;
}
