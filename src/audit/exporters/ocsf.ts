import type { ExportRecord } from './exporter.js';

/**
 * OCSF API Activity (class_uid 6003, category 6 Application Activity). Request lifecycle events
 * map to activities; the Countersign event is kept whole under `unmapped` so nothing is lost.
 */
const activity: Record<string, { id: number; name: string }> = {
  'request.submitted': { id: 1, name: 'Create' },
  'request.cancelled': { id: 4, name: 'Delete' },
  'request.notified': { id: 2, name: 'Read' },
};

const refused = new Set([
  'request.rejected',
  'request.expired',
  'request.failed',
  'request.cancelled',
  'review.refused',
  'reviewer.login_refused',
]);

export function ocsfApiActivity(r: ExportRecord, productVersion = '0.1.0'): Record<string, unknown> {
  const e = r.event;
  const a = activity[e.kind] ?? { id: 3, name: 'Update' };
  const details = e.details as Record<string, unknown>;
  const action = (details.action ?? {}) as { type?: string; resource?: string };
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id: a.id,
    activity_name: a.name,
    type_uid: 6003 * 100 + a.id,
    time: e.at,
    severity_id: 1,
    status_id: refused.has(e.kind) ? 2 : 1,
    status: refused.has(e.kind) ? 'Failure' : 'Success',
    message: e.kind,
    metadata: {
      version: '1.1.0',
      product: { name: 'Countersign', vendor_name: 'Countersign', version: productVersion },
      uid: `${r.index}`,
      log_name: 'countersign-audit',
      correlation_uid: e.requestId ?? undefined,
    },
    actor: { user: { uid: e.subject.id, type: e.subject.type } },
    api: { operation: e.kind, service: { name: 'countersign' } },
    ...(action.type ? { resources: [{ type: action.type, uid: action.resource }] } : {}),
    src_endpoint: {},
    unmapped: { index: r.index, leafHash: r.leafHash, event: e },
  };
}

export function ocsfLine(r: ExportRecord): string {
  return `${JSON.stringify(ocsfApiActivity(r))}\n`;
}
