import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, isIP, type Socket } from 'node:net';
import { hostname } from 'node:os';
import { connect as tlsConnect } from 'node:tls';
import type { Exporter, ExportRecord } from './exporter.js';

/** RFC 5424 facility 13 ("log audit"), severity 6 (informational). */
const PRI = 13 * 8 + 6;
/** Private enterprise number 32473 is reserved for documentation (RFC 5612); replace it when one is assigned. */
const SD_ID = 'countersign@32473';

function sdEscape(v: string): string {
  return v.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** One RFC 5424 message: MSGID is the event kind, structured data carries index and leaf hash. */
export function syslogMessage(r: ExportRecord, host = hostname(), appName = 'countersign'): string {
  const ts = new Date(r.event.at).toISOString();
  const msgid = r.event.kind.replace(/[^\x21-\x7e]/g, '_').slice(0, 32);
  const sd = `[${SD_ID} index="${r.index}" leafHash="${r.leafHash}"${r.event.requestId ? ` requestId="${sdEscape(r.event.requestId)}"` : ''}]`;
  return `<${PRI}>1 ${ts} ${host.slice(0, 255) || '-'} ${appName} ${process.pid} ${msgid} ${sd} \uFEFF${r.entry}`;
}

export interface SyslogTarget {
  transport: 'udp' | 'tcp' | 'tls';
  host: string;
  port: number;
  /** PEM file of the CA that signed the receiver's certificate (TLS; default: the system CAs). */
  ca?: string;
}

/** Parses `syslog+udp://host:514`, `syslog+tcp://host:601` or `syslog+tls://host:6514[?ca=FILE]`. */
export function parseSyslogUrl(url: string): SyslogTarget {
  const m = /^syslog\+(udp|tcp|tls):\/\/([^:/]+|\[[^\]]+\]):(\d+)(?:\?ca=(.+))?$/.exec(url);
  if (!m || (m[4] && m[1] !== 'tls')) {
    throw new Error(
      `syslog target ${JSON.stringify(url)} must look like syslog+udp://host:514, syslog+tcp://host:601 or syslog+tls://host:6514?ca=/path/ca.pem`,
    );
  }
  const host = m[2]!.replace(/^\[|\]$/g, '');
  return {
    transport: m[1] as SyslogTarget['transport'],
    host,
    port: Number(m[3]),
    ...(m[4] ? { ca: m[4] } : {}),
  };
}

/**
 * Syslog over UDP (one datagram per message; lossy by nature, use TCP when loss matters), TCP
 * with octet-counting framing (RFC 6587) or TLS (RFC 5425, same framing, certificate checked);
 * over TCP and TLS a batch counts as sent once the socket flushed it.
 */
export function syslogExporter(
  target: SyslogTarget,
  name = `syslog+${target.transport}://${target.host}:${target.port}`,
): Exporter {
  let tcp: Socket | undefined;
  const tcpSocket = () =>
    new Promise<Socket>((resolve, reject) => {
      if (tcp && !tcp.destroyed) return resolve(tcp);
      const s =
        target.transport === 'tls'
          ? tlsConnect({
              host: target.host,
              port: target.port,
              servername: isIP(target.host) ? undefined : target.host,
              ...(target.ca ? { ca: readFileSync(target.ca) } : {}),
            })
          : connect(target.port, target.host);
      s.once(target.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        tcp = s;
        s.on('error', () => s.destroy());
        resolve(s);
      });
      s.once('error', reject);
    });
  return {
    name,
    async send(records) {
      const messages = records.map((r) => Buffer.from(syslogMessage(r), 'utf8'));
      if (target.transport === 'udp') {
        const sock = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
        try {
          for (const m of messages) {
            await new Promise<void>((res, rej) =>
              sock.send(m, target.port, target.host, (e) => (e ? rej(e) : res())),
            );
          }
        } finally {
          sock.close();
        }
        return;
      }
      const s = await tcpSocket();
      const framed = Buffer.concat(messages.flatMap((m) => [Buffer.from(`${m.length} `), m]));
      await new Promise<void>((res, rej) => {
        s.write(framed, (e) => (e ? rej(e) : res()));
      }).catch((e) => {
        s.destroy();
        throw e;
      });
    },
    async close() {
      tcp?.end();
    },
  };
}
