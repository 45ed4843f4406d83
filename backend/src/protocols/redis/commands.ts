/**
 * What a Redis command is, from its words: its operation (container commands such as `CONFIG GET`
 * as one), the first key it acts on (Redis' key specs, for the commands whose first key is not
 * their first argument or that have none), the channel of a pub/sub command, and which of its
 * arguments are secrets.
 */

/** Commands whose first argument is a subcommand: the operation is both words. */
const CONTAINERS = new Set([
  'ACL', 'CLIENT', 'CLUSTER', 'COMMAND', 'CONFIG', 'DEBUG', 'FUNCTION', 'LATENCY', 'MEMORY', 'MODULE', 'OBJECT',
  'PUBSUB', 'SCRIPT', 'SENTINEL', 'SLOWLOG', 'XGROUP', 'XINFO',
]);

/** Commands without keys (besides the containers, which have none unless listed in KEY_AT_2). */
const KEYLESS = new Set([
  'AUTH', 'HELLO', 'PING', 'ECHO', 'SELECT', 'QUIT', 'RESET', 'INFO', 'MULTI', 'EXEC', 'DISCARD', 'UNWATCH', 'DBSIZE',
  'FLUSHDB', 'FLUSHALL', 'TIME', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'LASTSAVE', 'SHUTDOWN', 'MONITOR', 'SYNC', 'PSYNC',
  'REPLCONF', 'REPLICAOF', 'SLAVEOF', 'ROLE', 'KEYS', 'SCAN', 'RANDOMKEY', 'WAIT', 'WAITAOF', 'SWAPDB', 'FAILOVER',
  'LOLWUT', 'READONLY', 'READWRITE', 'ASKING', 'PUBLISH', 'SPUBLISH', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PSUBSCRIBE',
  'PUNSUBSCRIBE', 'SSUBSCRIBE', 'SUNSUBSCRIBE',
]);

/** Containers whose subcommand takes a key next: `OBJECT ENCODING key`, `XINFO STREAM key`… */
const KEY_AT_2 = new Set(['OBJECT', 'XINFO', 'XGROUP', 'MEMORY USAGE', 'BITOP']);
/** `CMD numkeys key…`. */
const NUMKEYS_AT_1 = new Set(['ZUNION', 'ZINTER', 'ZDIFF', 'ZINTERCARD', 'SINTERCARD', 'LMPOP', 'ZMPOP']);
/** `CMD x numkeys key…`. */
const NUMKEYS_AT_2 = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO', 'BLMPOP', 'BZMPOP']);

/** Pub/sub commands whose arguments are channels (or patterns): their target. */
const CHANNEL_COMMANDS = new Set(['PUBLISH', 'SPUBLISH', 'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE', 'SUNSUBSCRIBE']);

/** The operation: the command word (upper case), a container's subcommand with it. */
export function operationOf(name: string, args: readonly string[]): string {
  return CONTAINERS.has(name) && args.length > 1 ? `${name} ${args[1].toUpperCase()}` : name;
}

/** Commands with secret arguments (see secretArguments), by their command word. */
export const SECRET_COMMANDS = new Set(['AUTH', 'HELLO', 'MIGRATE', 'CONFIG', 'SENTINEL', 'ACL']);

/** Argument i when the command had it, else ''. */
function argAt(args: readonly string[], argc: number, i: number): string {
  return i < argc ? (args[i] ?? '') : '';
}

/** The index of the first argument after `from` that is `word` (any case), -1 when none. */
function indexOfWord(args: readonly string[], from: number, word: string): number {
  for (let i = from; i < args.length; i++) if (args[i].toUpperCase() === word) return i;
  return -1;
}

/**
 * The first key, '' for a command without keys. `name` is the command word (upper case), `args`
 * the first words (MAX_ITEMS), `argc` how many the command had.
 */
export function firstKey(name: string, operation: string, args: readonly string[], argc: number): string {
  if (KEY_AT_2.has(name) || KEY_AT_2.has(operation)) {
    return name === 'XGROUP' && operation === 'XGROUP HELP' ? '' : argAt(args, argc, 2);
  }
  if (CONTAINERS.has(name) || KEYLESS.has(name)) return '';
  if (NUMKEYS_AT_1.has(name)) return Number(args[1]) > 0 ? argAt(args, argc, 2) : '';
  if (NUMKEYS_AT_2.has(name)) return Number(args[2]) > 0 ? argAt(args, argc, 3) : '';
  if (name === 'XREAD' || name === 'XREADGROUP') {
    const i = indexOfWord(args, 1, 'STREAMS');
    return i < 0 ? '' : argAt(args, argc, i + 1);
  }
  if (name === 'MIGRATE') {
    const key = argAt(args, argc, 3);
    if (key !== '') return key;
    const i = indexOfWord(args, 6, 'KEYS');
    return i < 0 ? '' : argAt(args, argc, i + 1);
  }
  return argAt(args, argc, 1);
}

/** The channel (or pattern) a pub/sub command names first. */
export function channelOf(name: string, args: readonly string[]): string {
  return CHANNEL_COMMANDS.has(name) ? (args[1] ?? '') : '';
}

/** Configuration parameters whose values are secrets (and any parameter whose name says `pass`). */
function secretParameter(name: string, extraNames: ReadonlySet<string>): boolean {
  const n = name.toLowerCase();
  return n.includes('pass') || n === 'masterauth' || extraNames.has(n);
}

/** ACL rules that carry a password or its hash: `>pw`, `<pw`, `#hash`, `!hash`. */
function aclSecretRule(rule: string): boolean {
  const c = rule.charCodeAt(0);
  return c === 0x3e || c === 0x3c || c === 0x23 || c === 0x21;
}

/** Item i's text, undefined when it was not recorded (past the body limit or MAX_OFFSETS). */
export type ItemText = (i: number) => string | undefined;

/**
 * The indexes of a command's secret arguments. Usernames are kept (they say who failed to log
 * in), passwords are not: `AUTH [user] pw`, `HELLO 3 AUTH user pw`, `MIGRATE … AUTH pw`,
 * `MIGRATE … AUTH2 user pw`, `CONFIG SET requirepass|masterauth|*pass* v`, `ACL SETUSER u >pw #hash`,
 * `SENTINEL SET m auth-pass pw`, `SENTINEL CONFIG SET sentinel-pass pw`. An argument whose text is
 * unknown ends the list with its index: from there on, everything is secret.
 */
export function secretArguments(operation: string, arg: ItemText, argc: number, extraNames: ReadonlySet<string>): number[] {
  const out: number[] = [];
  const word = (i: number) => arg(i)?.toUpperCase();
  switch (operation) {
    case 'AUTH':
      if (argc >= 2) out.push(argc - 1);
      break;
    case 'HELLO':
      for (let i = 2; i < argc; i++) {
        if (word(i) === 'AUTH') {
          out.push(i + 2);
          i += 2;
        }
      }
      break;
    case 'MIGRATE':
      for (let i = 6; i < argc; i++) {
        const w = word(i);
        if (w === undefined) {
          out.push(i);
          break;
        }
        if (w === 'KEYS') break;
        if (w === 'AUTH') out.push(++i);
        else if (w === 'AUTH2') {
          out.push(i + 2);
          i += 2;
        }
      }
      break;
    case 'CONFIG SET':
    case 'SENTINEL CONFIG':
    case 'SENTINEL SET':
      // CONFIG SET name value [name value …]; SENTINEL SET master name value …; SENTINEL CONFIG SET name value.
      pairs(operation === 'CONFIG SET' ? 2 : 3, argc, arg, extraNames, out);
      break;
    case 'ACL SETUSER':
      for (let i = 3; i < argc; i++) {
        const rule = arg(i);
        if (rule === undefined || aclSecretRule(rule)) out.push(i);
        if (rule === undefined) break;
      }
      break;
  }
  return out.filter((i) => i < argc);
}

/** Name/value pairs from `from`: the indexes of the values of secret names. */
function pairs(from: number, count: number, item: ItemText, extraNames: ReadonlySet<string>, out: number[]): void {
  for (let i = from; i + 1 < count; i += 2) {
    const name = item(i);
    if (name === undefined) {
      out.push(i);
      return;
    }
    if (secretParameter(name, extraNames)) out.push(i + 1);
  }
}

/**
 * The secret items of a reply to `operation`: `CONFIG GET`'s values of secret parameters (an
 * array or map of name, value), `ACL GETUSER`'s `passwords`, every rule of `ACL LIST` (whole lines:
 * their hashes are in them).
 */
export function secretReplyItems(operation: string, item: ItemText, itemCount: number, extraNames: ReadonlySet<string>): number[] {
  const out: number[] = [];
  switch (operation) {
    case 'CONFIG GET':
    case 'SENTINEL CONFIG':
      pairs(0, itemCount, item, extraNames, out);
      break;
    case 'ACL GETUSER':
      for (let i = 0; i + 1 < itemCount; i += 2) {
        const name = item(i);
        if (name === undefined || name === 'passwords') {
          out.push(i + 1);
          if (name === undefined) out.push(i);
          break;
        }
      }
      break;
    case 'ACL LIST':
      for (let i = 0; i < itemCount; i++) out.push(i);
      break;
  }
  return out;
}
