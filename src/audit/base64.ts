/**
 * Standard base64 (with padding), canonical only. Node's decoder ignores the unused bits of the
 * last character, so `…B=` and `…A=` can decode to the same bytes: accepting both would let a
 * signed note, receipt or proof be altered without any check noticing. Everything the log reads
 * back goes through here.
 */
export function decodeBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
