import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument } from 'yaml';

/** A parsed YAML file that can say where any path in it was written. */
export interface YamlSource {
  file: string;
  doc: Document;
  value: unknown;
  /** `file:line:column` of the node at `path`, or of its nearest existing parent. */
  where(path: ReadonlyArray<string | number>): string;
}

export class SourceError extends Error {
  constructor(
    readonly location: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${location}: ${problem}${fix ? `. ${fix}` : ''}`);
    this.name = 'SourceError';
  }
}

/** Parses YAML text, failing with file:line:column on syntax errors. */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    throw new SourceError(
      `${file}:${pos.line}:${pos.col}`,
      `invalid YAML: ${first.message.split('\n')[0]}`,
      'Fix the syntax at that position',
    );
  }
  const at = (node: unknown): string | undefined => {
    const range = (node as Node | undefined)?.range;
    if (!range) return undefined;
    const pos = lineCounter.linePos(range[0]);
    return `${file}:${pos.line}:${pos.col}`;
  };
  // Points at the key of a mapping entry (where a reader looks), else at the node itself.
  const where = (path: ReadonlyArray<string | number>): string => {
    for (let n = path.length; n > 0; n--) {
      const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
      const last = path[n - 1];
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(last));
        const found = pair && at(pair.key);
        if (found) return found;
      }
      const found = at(doc.getIn(path.slice(0, n), true));
      if (found) return found;
    }
    return at(doc.contents) ?? `${file}:1:1`;
  };
  return { file, doc, value: doc.toJS(), where };
}

/** Turns an Ajv/TypeBox instance path (`/rules/0/decision`) into YAML path segments. */
export function pointerToPath(pointer: string): Array<string | number> {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
