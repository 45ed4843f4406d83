/**
 * Case-insensitive header name comparison without creating lowercased copies: dissectors note
 * framing headers with it and the agent's redaction finds secret headers with it, once for every
 * header of every message.
 */

/**
 * name.toLowerCase() === lower, where `lower` is already lowercase. Latin1 names (what captured
 * bytes decode to) are compared character by character; others are left to toLowerCase.
 */
export function equalsLowercase(name: string, lower: string): boolean {
  const n = name.length;
  for (let i = 0; i < n; i++) {
    let c = name.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 192 && c <= 222 && c !== 215)) c += 32;
    else if (c > 255) return name.toLowerCase() === lower;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return n === lower.length;
}
