import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import Provider from 'oidc-provider';

/** Claims of a test account at the loopback IdP; the account id is the subject. */
export type AccountClaims = Record<string, unknown> & { email: string };

export const CLIENT_ID = 'countersign-test';
export const CLIENT_SECRET = 'test-client-secret-not-a-real-one';

/** Above the well-known and most registered service ports. */
const lowestPort = 10_000;

/**
 * A free loopback port for a server that must know its own URL before it starts (a gateway whose
 * public URL is in the IdP's redirect URIs). It is drawn below the kernel's ephemeral range, where
 * `listen(0)` in another test file never lands: a port freed by `listen(0)` can be handed to
 * another file's server before it is used, as CI once saw. Only another caller of this function
 * could take it, picking the same one of thousands of ports at the same moment.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = lowestPort + Math.floor(Math.random() * (high - lowestPort));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between ${lowestPort} and ${high}`);
}

/** The first port of the kernel's ephemeral range (Linux); IANA's 49152 elsewhere. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]);
    if (Number.isInteger(low) && low > lowestPort + 1000) return low;
  } catch {
    // Not Linux.
  }
  return 49_152;
}

function canListen(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port where nothing listens, for tests of what happens when a peer is down: port 1.
 * Neither `listen(0)` nor `freePort` ever hands it out, so no test's server can appear there (CI
 * once saw a port freed by `listen(0)` answer 400 where it should have refused). The check makes
 * a host where something does listen there fail here, by name, not in the test that uses it.
 */
export async function refusedPort(): Promise<number> {
  const port = 1;
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', resolve);
  });
  if (error?.code !== 'ECONNREFUSED') {
    throw new Error(`expected 127.0.0.1:${port} to refuse connections, got ${error?.code ?? 'a connection'}`);
  }
  return port;
}

/**
 * A real OpenID Provider (the `oidc-provider` package) on 127.0.0.1, with its development
 * login form, which accepts any password for the accounts given here.
 */
export async function startIdp(accounts: Record<string, AccountClaims>, redirectUris: string[]) {
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, id) {
      const claims = accounts[id];
      if (!claims) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'hd'],
      groups: ['groups'],
    },
    scopes: ['openid', 'email', 'profile', 'groups'],
    // Put the scope's claims into the ID token itself, as Okta and Google do for these scopes.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['test-only-cookie-signing-key'] },
  });
  server.on('request', provider.callback());
  return {
    issuer,
    provider,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A minimal browser: one cookie jar per origin, redirects followed by hand. */
export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  jar(origin: string): Map<string, string> {
    let j = this.jars.get(origin);
    if (!j) {
      j = new Map();
      this.jars.set(origin, j);
    }
    return j;
  }

  async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ) {
    const u = new URL(url);
    const jar = this.jar(u.origin);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(u, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq).trim();
      const value = (pair as string).slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, value);
    }
    return {
      status: res.status,
      location: res.headers.get('location'),
      setCookies: res.headers.getSetCookie(),
      text: await res.text(),
      url: u,
    };
  }

  /**
   * Follows redirects from `url`, signing in at the IdP's login form as `account` (and
   * consenting) when asked, until a response that is not a redirect or a location for which
   * `stop` returns true. Returns that last response, or the stopping URL.
   */
  async follow(url: string, account: string, stop: (next: URL) => boolean = () => false) {
    let next = url;
    for (let hops = 0; hops < 20; hops++) {
      const res = await this.request(next);
      if (res.status >= 300 && res.status < 400 && res.location) {
        const target = new URL(res.location, res.url);
        if (stop(target)) return { stoppedAt: target, last: res };
        next = target.href;
        continue;
      }
      const prompt = /name="prompt" value="(login|consent)"/.exec(res.text)?.[1];
      if (res.status === 200 && prompt) {
        const action = new URL(/action="([^"]+)"/.exec(res.text)?.[1] as string, res.url);
        const body = new URLSearchParams(
          prompt === 'login' ? { prompt, login: account, password: 'any' } : { prompt },
        ).toString();
        const posted = await this.request(action.href, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        if (!posted.location) throw new Error(`IdP ${prompt} form did not redirect (${posted.status})`);
        next = new URL(posted.location, posted.url).href;
        continue;
      }
      return { stoppedAt: null, last: res };
    }
    throw new Error('too many redirects');
  }
}
