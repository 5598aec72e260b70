import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Loads the gateway's Ed25519 signing key, creating it (mode 0600) on first start. The audit log
 * signs its checkpoints with it; only the public half ever leaves this process.
 */
export function loadOrCreateSigningKey(file: string): {
  privateKey: KeyObject;
  publicKey: KeyObject;
  created: boolean;
} {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    return { privateKey, publicKey: createPublicKey(privateKey), created: true };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch {
    throw new Error(
      `${file}: not a readable PEM private key; restore it from backup or move it away to create a new one`,
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${file}: the signing key must be Ed25519, found ${privateKey.asymmetricKeyType}`);
  }
  return { privateKey, publicKey: createPublicKey(privateKey), created: false };
}
