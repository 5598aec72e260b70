import { describe, expect, it } from 'vitest';
import { slackSignature, verifySlackRequest } from './verify.js';

// Slack's worked example from "Verifying requests from Slack" (api.slack.com/authentication/verifying-requests-from-slack).
const vector = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const at = Number(vector.timestamp) * 1000;

describe('Slack request signatures', () => {
  it("matches Slack's published example", () => {
    expect(slackSignature(vector.secret, vector.timestamp, vector.body)).toBe(vector.signature);
    expect(verifySlackRequest(vector.secret, vector, vector.body, at)).toEqual({ ok: true });
  });

  it('refuses any change to body, timestamp, signature or secret', () => {
    const cases = [
      verifySlackRequest(vector.secret, vector, `${vector.body}&x=1`, at),
      verifySlackRequest(vector.secret, { ...vector, timestamp: '1531420619' }, vector.body, at),
      verifySlackRequest(
        vector.secret,
        { ...vector, signature: vector.signature.replace('a2', 'a3') },
        vector.body,
        at,
      ),
      verifySlackRequest(
        vector.secret,
        { ...vector, signature: vector.signature.toUpperCase() },
        vector.body,
        at,
      ),
      verifySlackRequest(vector.secret, { ...vector, signature: `${vector.signature}00` }, vector.body, at),
      verifySlackRequest(
        vector.secret,
        { ...vector, signature: 'v1=' + vector.signature.slice(3) },
        vector.body,
        at,
      ),
      verifySlackRequest(`${vector.secret}x`, vector, vector.body, at),
    ];
    for (const c of cases) expect(c.ok).toBe(false);
  });

  it('accepts five minutes of skew either way and no more', () => {
    expect(verifySlackRequest(vector.secret, vector, vector.body, at + 300_000).ok).toBe(true);
    expect(verifySlackRequest(vector.secret, vector, vector.body, at - 300_000).ok).toBe(true);
    expect(verifySlackRequest(vector.secret, vector, vector.body, at + 301_000)).toEqual({
      ok: false,
      reason: 'the request is more than five minutes old',
    });
    expect(verifySlackRequest(vector.secret, vector, vector.body, at - 301_000)).toEqual({
      ok: false,
      reason: 'the request is timestamped more than five minutes in the future',
    });
  });

  it('refuses missing and malformed headers without naming the secret', () => {
    const missing = verifySlackRequest(
      vector.secret,
      { timestamp: undefined, signature: vector.signature },
      vector.body,
      at,
    );
    const junk = verifySlackRequest(
      vector.secret,
      { timestamp: '1e9', signature: vector.signature },
      vector.body,
      at,
    );
    for (const c of [missing, junk]) {
      expect(c.ok).toBe(false);
      expect(JSON.stringify(c)).not.toContain(vector.secret);
    }
  });
});
