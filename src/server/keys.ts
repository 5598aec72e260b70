import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
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

/**
 * A running gateway signs checkpoints with the key it loaded at start. `audit rotate-key` must not
 * swap the key under it: its next checkpoint would be signed by the retired key, and the log would
 * then verify with neither. The gateway marks the key file as in use (its pid) while it runs.
 */
export const inUseFile = (keyFile: string) => `${keyFile}.in-use`;

export function markKeyInUse(keyFile: string): () => void {
  const file = inUseFile(keyFile);
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {}
  };
}

/** The pid of a live process that marked the key file as in use, if any (a stale mark is ignored). */
export function keyUser(keyFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(inUseFile(keyFile), 'utf8').trim());
  } catch {
    return undefined;
  }
  // The mark of this very process is not another gateway (tests run the gateway and the CLI in one).
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: it exists but belongs to someone else; still a running process.
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
