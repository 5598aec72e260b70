import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a delivery must never reach unless the operator allows them: loopback, private,
 * link-local (cloud metadata lives at 169.254.169.254), carrier-grade NAT, multicast, reserved
 * and documentation ranges, and their IPv6 counterparts.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** An IPv4 address embedded as `::ffff:a.b.c.d` (or its hex form) is judged as IPv4. */
function unmapped(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const lower = address.toLowerCase();
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted?.[1]) return { address: dotted[1], family: 'ipv4' };
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] && hex[2]) {
    const hi = Number.parseInt(hex[1], 16);
    const lo = Number.parseInt(hex[2], 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: 'ipv4' };
  }
  return { address, family: isIP(address) === 4 ? 'ipv4' : 'ipv6' };
}

export class AddressPolicy {
  private readonly allowed = new BlockList();

  /** `allow` lists CIDRs (or single addresses) the operator lets deliveries reach anyway. */
  constructor(allow: readonly string[] = []) {
    for (const entry of allow) {
      const [net, bits] = entry.split('/');
      const family = isIP(net ?? '');
      if (!net || family === 0)
        throw new Error(`webhooks.allowPrivateNetworks: ${entry} is not an IP or CIDR`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      this.allowed.addSubnet(net, prefix, type);
    }
  }

  /** Whether a delivery may connect to this IP address. */
  permits(ip: string): boolean {
    const { address, family } = unmapped(ip);
    if (isIP(address) === 0) return false;
    if (this.allowed.check(address, family)) return true;
    return !blocked.check(address, family);
  }

  /**
   * A `dns.lookup` replacement for http.request: it resolves, refuses when ANY resolved address is
   * not permitted, and hands the socket exactly the addresses it checked — so a DNS answer that
   * changes between check and connect (rebinding) cannot slip through.
   */
  lookup(): typeof dnsLookup {
    const guarded = (
      hostname: string,
      options: { all?: boolean; family?: number } | number,
      callback: (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void,
    ) => {
      const opts = typeof options === 'number' ? { family: options } : (options ?? {});
      dnsLookup(hostname, { ...opts, all: true }, (err, addresses) => {
        if (err) return callback(err, '');
        const refused = addresses.find((a) => !this.permits(a.address));
        if (refused || addresses.length === 0) {
          return callback(new SsrfError(hostname, refused?.address ?? 'no address'), '');
        }
        if (opts.all) return callback(null, addresses);
        const first = addresses[0] as LookupAddress;
        return callback(null, first.address, first.family);
      });
    };
    return guarded as unknown as typeof dnsLookup;
  }
}

/** A destination refused because it resolves to a private, loopback or reserved address. */
export class SsrfError extends Error {
  readonly code = 'CS_SSRF_REFUSED';
  constructor(host: string, address: string) {
    super(
      `refused to deliver to ${host}: it resolves to ${address}, a private, loopback or reserved address; allow it in webhooks.allowPrivateNetworks if intended`,
    );
    this.name = 'SsrfError';
  }
}
