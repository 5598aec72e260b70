import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  LoggerProvider,
  type LogRecordProcessor,
  type ReadableLogRecord,
  type SdkLogRecord,
} from '@opentelemetry/sdk-logs';
import type { Exporter, ExportRecord } from './exporter.js';

/**
 * Collects emitted records and exports them on `forceFlush`, rejecting when the collector does
 * not accept them. The SDK's batch processor only logs export failures; the cursor must not move
 * past records a collector never got.
 */
class FlushingProcessor implements LogRecordProcessor {
  private pending: SdkLogRecord[] = [];

  constructor(private readonly exporter: OTLPLogExporter) {}

  onEmit(record: SdkLogRecord): void {
    this.pending.push(record);
  }

  forceFlush(): Promise<void> {
    const batch: ReadableLogRecord[] = this.pending.splice(0);
    if (batch.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.exporter.export(batch, (r) =>
        r.code === ExportResultCode.SUCCESS
          ? resolve()
          : reject(r.error ?? new Error('OTLP log export failed')),
      );
    });
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}

/** `countersign.request.approved` for kind `request.approved`. */
export function otelEventName(kind: string): string {
  return `countersign.${kind}`;
}

/** OpenTelemetry log records over OTLP/HTTP, one per entry, with the log index and leaf hash as attributes. */
export function otlpExporter(
  url: string,
  options: { headers?: Record<string, string>; timeoutMillis?: number } = {},
): Exporter {
  const exporter = new OTLPLogExporter({
    url,
    headers: options.headers ?? {},
    timeoutMillis: options.timeoutMillis ?? 10_000,
  });
  const processor = new FlushingProcessor(exporter);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'countersign' }),
    processors: [processor],
  });
  const logger = provider.getLogger('countersign.audit');
  return {
    name: `otlp:${url}`,
    async send(records: readonly ExportRecord[]) {
      for (const r of records) {
        logger.emit({
          eventName: otelEventName(r.event.kind),
          timestamp: r.event.at,
          severityNumber: SeverityNumber.INFO,
          severityText: 'INFO',
          body: r.entry,
          attributes: {
            'countersign.log.index': r.index,
            'countersign.log.leaf_hash': r.leafHash,
            'countersign.event.kind': r.event.kind,
            'countersign.subject.type': r.event.subject.type,
            'countersign.subject.id': r.event.subject.id,
            ...(r.event.requestId ? { 'countersign.request.id': r.event.requestId } : {}),
          },
        });
      }
      await processor.forceFlush();
    },
    close: () => provider.shutdown(),
  };
}
