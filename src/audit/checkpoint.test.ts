import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import {
  CheckpointSigner,
  chainExtension,
  chainLinkOf,
  formatCheckpoint,
  logKeyFrom,
  openCheckpoint,
  parseCheckpoint,
} from './checkpoint.js';
import { emptyRoot, leafHash } from './merkle.js';
import { ed25519NoteVerifier, LocalEd25519Key, openNote, parseNote, parseVerifierKey } from './note.js';

describe('checkpoints', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const signer = new CheckpointSigner('countersign.example/log', LocalEd25519Key.generate(), clock);
  const key = logKeyFrom(signer.verifierKey);

  it('round-trips the tlog-checkpoint text', () => {
    const cp = { origin: 'a.example/log', size: 5, root: leafHash('x'), extensions: ['ext one'] };
    expect(parseCheckpoint(formatCheckpoint(cp))).toEqual(cp);
    expect(formatCheckpoint({ origin: 'o', size: 0, root: emptyRoot })).toBe(
      'o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n',
    );
    expect(() => parseCheckpoint('o\n01\nAAAA\n')).toThrow(/decimal/);
    expect(() => parseCheckpoint('o\n1\nAAAA\n')).toThrow(/base64 SHA-256/);
  });

  it('signs with the log key and a timestamped cosignature that verify', async () => {
    const note = await signer.sign(42, leafHash('root'));
    expect(parseNote(note).signatures).toHaveLength(2);
    const opened = openCheckpoint(note, key);
    expect(opened.checkpoint.size).toBe(42);
    expect(opened.timestamp).toBe(Date.UTC(2026, 0, 1, 12) / 1000);
  });

  it('refuses a checkpoint without its timestamp, with a changed size, or from another key', async () => {
    const note = await signer.sign(42, leafHash('root'));
    const lines = note.split('\n');
    const withoutTimestamp = `${lines.slice(0, 5).join('\n')}\n`;
    expect(() => openCheckpoint(withoutTimestamp, key)).toThrow(/no timestamp/);
    expect(() => openCheckpoint(note.replace('\n42\n', '\n43\n'), key)).toThrow(/does not verify/);
    const other = new CheckpointSigner('countersign.example/log', LocalEd25519Key.generate(), clock);
    const foreign = await other.sign(42, leafHash('root'));
    expect(() => openCheckpoint(foreign, key)).toThrow(/no signature from a known key/);
  });

  it('chains a checkpoint to the text of the one before it, in an extension line', async () => {
    const first = await signer.sign(1, leafHash('a'), [chainExtension(1, null)]);
    const second = await signer.sign(2, leafHash('b'), [chainExtension(2, first)]);
    const one = chainLinkOf(openCheckpoint(first, key).checkpoint);
    const two = chainLinkOf(openCheckpoint(second, key).checkpoint);
    expect(one).toEqual({ seq: 1, previous: null });
    expect(two?.seq).toBe(2);
    // The hash covers the previous note's text, not its signature lines (a witness adds some later).
    const cosigned = `${first}\u2014 w.example/1 AAAAAAA=\n`;
    expect(chainExtension(2, cosigned)).toBe(chainExtension(2, first));
    expect(chainLinkOf({ origin: 'o', size: 0, root: emptyRoot })).toBeUndefined();
    expect(() => chainExtension(2, null)).toThrow(/only the first/);
    expect(() => chainExtension(1, first)).toThrow(/only the first/);
    expect(() => chainExtension(0, null)).toThrow(/positive/);
  });

  it('refuses malformed or repeated chain lines', () => {
    const cp = (...extensions: string[]) => ({ origin: 'o', size: 1, root: emptyRoot, extensions });
    const h = leafHash('x').toString('base64');
    expect(chainLinkOf(cp('other extension', `countersign.chain/v1 7 ${h}`))?.seq).toBe(7);
    for (const bad of [
      'countersign.chain/v1 01 -',
      'countersign.chain/v1 1',
      'countersign.chain/v1 2 -',
      `countersign.chain/v1 1 ${h}`,
      'countersign.chain/v1 2 AAAA',
      `countersign.chain/v1 2 ${h} extra`,
    ])
      expect(() => chainLinkOf(cp(bad)), bad).toThrow();
    expect(() => chainLinkOf(cp('countersign.chain/v1 1 -', 'countersign.chain/v1 1 -'))).toThrow(/2 /);
    expect(() => formatCheckpoint(cp('two\nlines'))).toThrow(/one non-empty line/);
  });

  it('a chained checkpoint still verifies for a C2SP verifier that ignores extension lines', async () => {
    const note = await signer.sign(3, leafHash('c'), [chainExtension(1, null)]);
    const k = parseVerifierKey(signer.verifierKey);
    const { note: opened } = openNote(note, [ed25519NoteVerifier(k.name, k.publicKey)]);
    const [origin, size, root] = opened.text.split('\n');
    expect([origin, size, root]).toEqual(['countersign.example/log', '3', leafHash('c').toString('base64')]);
  });
});
