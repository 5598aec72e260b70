import { describe, expect, it } from 'vitest';
import {
  ed25519NoteSigner,
  ed25519NoteVerifier,
  LocalEd25519Key,
  openNote,
  parseNote,
  parseVerifierKey,
  SIG_ED25519,
  signNote,
  verifierKey,
} from './note.js';

// The signed-note example of the Go reference implementation (golang.org/x/mod/sumdb/note),
// also the original C2SP signed-note test vector.
const VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const SEED_B64 = 'AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz'; // type byte 0x01 then the 32-byte seed
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const NOTE = `${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;

describe('C2SP signed-note', () => {
  const vk = parseVerifierKey(VKEY);
  const verifier = ed25519NoteVerifier(vk.name, vk.publicKey);

  it('parses the test vector verifier key and checks its key id', () => {
    expect(vk).toMatchObject({ name: 'PeterNeumann', keyId: 0xc74f20a3, type: SIG_ED25519 });
    expect(verifierKey(vk.name, vk.type, vk.publicKey)).toBe(VKEY);
    expect(() =>
      parseVerifierKey('PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(/key id/);
    expect(() =>
      parseVerifierKey('Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
    ).toThrow(/shape/);
  });

  it('verifies the test vector note', () => {
    const { note } = openNote(NOTE, [verifier]);
    expect(note.text).toBe(TEXT);
  });

  it('reproduces the test vector signature byte for byte from the published seed', async () => {
    const seed = Buffer.from(SEED_B64, 'base64').subarray(1);
    const key = LocalEd25519Key.fromSeed(seed);
    expect(key.publicKey).toEqual(vk.publicKey);
    expect(await signNote(TEXT, [ed25519NoteSigner('PeterNeumann', key)])).toBe(NOTE);
  });

  it('rejects a changed text, an unknown key only, and malformed notes', () => {
    expect(() => openNote(NOTE.replace('cryptography', 'cryptographY'), [verifier])).toThrow(
      /does not verify/,
    );
    const other = ed25519NoteVerifier('PeterNeumann', LocalEd25519Key.generate().publicKey);
    expect(() => openNote(NOTE, [other])).toThrow(/no signature from a known key/);
    expect(() => parseNote(TEXT)).toThrow(/no signature block/);
    expect(() => parseNote(NOTE.replace('\u2014', '-'))).toThrow(/malformed signature line/);
    expect(() => parseNote(`a\u0007${NOTE}`)).toThrow(/control/);
  });

  it('keeps the private key out of JSON', () => {
    const key = LocalEd25519Key.generate();
    expect(JSON.stringify({ key })).not.toContain('PRIVATE');
    expect(LocalEd25519Key.fromPem(key.toPem()).publicKey).toEqual(key.publicKey);
  });
});
