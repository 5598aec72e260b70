import type { Command } from 'commander';
import { parseDuration } from '../../util/duration.js';
import { cliLogin, credentialsFile, openInBrowser, saveCredential } from '../login.js';
import { printJson, UsageError } from '../output.js';

/** `countersign login`: a reviewer token through the browser, for voting from a terminal. */
export function loginCommand(program: Command): void {
  program
    .command('login')
    .description('sign in as a reviewer through your identity provider (opens a browser)')
    .option('--url <url>', 'gateway URL (env COUNTERSIGN_URL, default http://127.0.0.1:8080)')
    .option('--max-age <duration>', 'require a fresh sign-in at the IdP within this long (step-up), e.g. 5m')
    .option('--no-browser', 'only print the sign-in URL')
    .option('--json', 'print the credential as JSON instead of saving it')
    .action(async (opts: { url?: string; maxAge?: string; browser: boolean; json?: boolean }) => {
      const url = opts.url ?? process.env.COUNTERSIGN_URL ?? 'http://127.0.0.1:8080';
      const maxAgeMs = opts.maxAge === undefined ? undefined : parseDuration(opts.maxAge);
      if (opts.maxAge !== undefined && maxAgeMs === undefined)
        throw new UsageError('--max-age takes a duration such as 5m');
      const credential = await cliLogin({
        url,
        ...(maxAgeMs !== undefined ? { maxAgeSec: Math.floor(maxAgeMs / 1000) } : {}),
        open: (signIn) => {
          process.stderr.write(`Sign in at:\n\n  ${signIn}\n\n`);
          if (opts.browser) openInBrowser(signIn);
        },
      });
      if (opts.json) return printJson(credential);
      const file = credentialsFile();
      saveCredential(credential);
      process.stdout.write(
        `signed in as ${credential.reviewer} until ${credential.expiresAt}\nreviewer token saved to ${file} (mode 0600); review commands use it when no --token is given\n`,
      );
    });
}
