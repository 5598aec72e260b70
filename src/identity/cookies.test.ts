import { describe, expect, it } from 'vitest';
import { cookieName, parseCookies, serializeCookie } from './cookies.js';

describe('cookies', () => {
  it('are always HttpOnly with SameSite, Secure and __Host- over https', () => {
    const name = cookieName('cs_session', true);
    expect(name).toBe('__Host-cs_session');
    const c = serializeCookie(name, 'v', { secure: true, sameSite: 'Lax', maxAgeSec: 60 });
    expect(c).toBe('__Host-cs_session=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60');
    expect(serializeCookie('a', '', { secure: false, sameSite: 'Strict', maxAgeSec: -5 })).toBe(
      'a=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
    );
  });

  it('parse the first value of a name and ignore junk', () => {
    const jar = parseCookies('a=1; b=2; a=3; junk; =x; c = 4 ');
    expect(jar.get('a')).toBe('1');
    expect(jar.get('b')).toBe('2');
    expect(jar.get('c')).toBe('4');
    expect(jar.has('junk')).toBe(false);
    expect(parseCookies(undefined).size).toBe(0);
  });
});
