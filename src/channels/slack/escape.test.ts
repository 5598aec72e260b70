import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backtickStandIn, codeBlock, inlineCode, plainMrkdwn, stripInvisible } from './escape.js';

const hostile = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc
    .array(
      fc.constantFrom(
        '<!channel>',
        '<!here>',
        '<@U0123>',
        '<#C1|x>',
        '<https://e.vil|ok>',
        '`',
        '```',
        '*',
        '_',
        '~',
        '>',
        '&',
        '&lt;',
        '\u202E',
        '\u0000',
        '\u200B',
        '\n',
        '\r',
        '\t',
        '\uD800',
        'é',
        '👩‍💻',
        'a',
      ),
      { maxLength: 40 },
    )
    .map((parts) => parts.join('')),
);

const decodeEntities = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
// biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for control characters.
const invisibleRe = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]/;

describe('escaping actor-controlled text for Slack', () => {
  it('inline code: no way to form a mention, link or markup, no hidden characters, bounded', () => {
    fc.assert(
      fc.property(hostile, fc.integer({ min: 1, max: 300 }), (input, max) => {
        const { mrkdwn } = inlineCode(input, max);
        if (mrkdwn === '_(empty)_') return;
        expect(mrkdwn.startsWith('`') && mrkdwn.endsWith('`')).toBe(true);
        const inner = mrkdwn.slice(1, -1);
        expect(inner).not.toMatch(/[<>`\n]/);
        expect(inner).not.toMatch(invisibleRe);
        expect(inner).not.toMatch(/&(?!amp;|lt;|gt;)/);
        expect(Array.from(decodeEntities(inner)).length).toBeLessThanOrEqual(max);
      }),
      { numRuns: 2000 },
    );
  });

  it('inline code keeps the visible text (a prefix of it when cut)', () => {
    fc.assert(
      fc.property(hostile, (input) => {
        const { mrkdwn, truncated } = inlineCode(input, 10_000);
        const expected = stripInvisible(input).replace(/\n/g, ' ↵ ').replace(/`/g, backtickStandIn);
        if (mrkdwn === '_(empty)_') {
          expect(expected.trim()).toBe('');
          return;
        }
        expect(truncated).toBe(false);
        expect(decodeEntities(mrkdwn.slice(1, -1))).toBe(expected);
      }),
    );
  });

  it('code blocks: only our own fences, nothing that can close them early', () => {
    fc.assert(
      fc.property(hostile, fc.integer({ min: 1, max: 500 }), (input, max) => {
        const { mrkdwn } = codeBlock(input, max);
        if (mrkdwn === '_(empty)_') return;
        expect(mrkdwn.startsWith('```') && mrkdwn.endsWith('```')).toBe(true);
        const inner = mrkdwn.slice(3, -3);
        expect(inner).not.toMatch(/[<>`]/);
        expect(inner).not.toMatch(invisibleRe);
      }),
      { numRuns: 2000 },
    );
  });

  it('plain mrkdwn never carries an angle bracket (no mention or link)', () => {
    fc.assert(
      fc.property(hostile, (input) => {
        expect(plainMrkdwn(input, 200)).not.toMatch(/[<>]/);
      }),
    );
  });

  it('cuts long values with an ellipsis and never splits a surrogate pair', () => {
    const r = inlineCode('👩'.repeat(50), 10);
    expect(r.truncated).toBe(true);
    expect(r.mrkdwn).toBe(`\`${'👩'.repeat(9)}…\``);
    expect(inlineCode('\uD800x', 10).mrkdwn).toBe('`\uFFFDx`');
  });
});
