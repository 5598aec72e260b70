import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import {
  CheckpointSigner,
  formatCheckpoint,
  logKeyFrom,
  openCheckpoint,
  parseCheckpoint,
} from './checkpoint.js';
import { emptyRoot, leafHash } from './merkle.js';
import { LocalEd25519Key, parseNote } from './note.js';

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
});
