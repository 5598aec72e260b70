import { describe, expect, it } from 'vitest';
import { testGateway } from './support/identity-gateway.js';

const form = (fields: Record<string, string>) => ({
  payload: new URLSearchParams(fields).toString(),
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
});

describe('development sign-in', () => {
  it('signs in as a demo reviewer without an IdP, in development mode', async () => {
    const gw = await testGateway();
    try {
      const login = await gw.app.inject({ method: 'GET', url: '/auth/login?return_to=%2Fconsole' });
      expect(login.statusCode).toBe(302);
      expect(login.headers.location).toBe('/auth/dev?return_to=%2Fconsole');
      const pageRes = await gw.app.inject({ method: 'GET', url: '/auth/dev' });
      expect(pageRes.body).toContain('alice@example.com');
      const res = await gw.app.inject({
        method: 'POST',
        url: '/auth/dev/login',
        ...form({ reviewer: 'alice@example.com', return_to: '//evil.example' }),
      });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('/');
      const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
      const session = await gw.app.inject({ method: 'GET', url: '/auth/session', headers: { cookie } });
      expect(JSON.parse(session.body).reviewer).toMatchObject({ id: 'alice@example.com', groups: ['sre'] });
      const nobody = await gw.app.inject({
        method: 'POST',
        url: '/auth/dev/login',
        ...form({ reviewer: 'mallory' }),
      });
      expect(nobody.statusCode).toBe(404);
    } finally {
      await gw.cleanup();
    }
  });

  it('does not exist outside development mode', async () => {
    const gw = await testGateway({ dev: false });
    try {
      expect((await gw.app.inject({ method: 'GET', url: '/auth/dev' })).statusCode).toBe(404);
      const res = await gw.app.inject({
        method: 'POST',
        url: '/auth/dev/login',
        ...form({ reviewer: 'alice@example.com' }),
      });
      expect(res.statusCode).toBe(404);
      expect((await gw.app.inject({ method: 'GET', url: '/auth/login' })).statusCode).toBe(404);
    } finally {
      await gw.cleanup();
    }
  });
});
