/**
 * Message types from the user's .proto files (`--proto DIR` of `tapline hub` and `tapline up`):
 * with them the drawer shows a call's messages with their field names instead of numbers. One
 * set per process, keyed by the call's service and method; calls it does not know stay
 * schema-less.
 */
import { readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import protobuf from 'protobufjs';
import { TaplineError } from '../../errors.js';

export class ProtoSchemaError extends TaplineError {
  readonly code = 'PROTO_SCHEMA';
}

interface MethodTypes {
  request: protobuf.Type;
  response: protobuf.Type;
}

/** By `package.Service/Method`. */
let methods = new Map<string, MethodTypes>();

function protoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...protoFiles(p));
    else if (name.endsWith('.proto')) out.push(p);
  }
  return out;
}

function collect(ns: protobuf.NamespaceBase, into: Map<string, MethodTypes>): void {
  for (const child of ns.nestedArray) {
    if (child instanceof protobuf.Service) {
      for (const m of child.methodsArray) {
        into.set(`${child.fullName.slice(1)}/${m.name}`, { request: m.resolvedRequestType!, response: m.resolvedResponseType! });
      }
    } else if (child instanceof protobuf.Namespace) collect(child, into);
  }
}

/** Loads every .proto file under `dir` (imports resolved from `dir`); returns how many methods they define. */
export function loadProtoDir(dir: string): number {
  let files: string[];
  try {
    files = protoFiles(dir);
  } catch (err) {
    throw new ProtoSchemaError(`cannot read --proto ${dir}: ${(err as Error).message}`);
  }
  if (files.length === 0) throw new ProtoSchemaError(`--proto ${dir}: no .proto files`);
  const root = new protobuf.Root();
  // `import "a/b.proto"` is relative to the directory given, as protoc's -I.
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(dir, target));
  const found = new Map<string, MethodTypes>();
  try {
    root.loadSync(files.map((f) => relative(dir, f)), { keepCase: true });
    root.resolveAll();
    collect(root, found);
  } catch (err) {
    throw new ProtoSchemaError(`--proto ${dir}: ${(err as Error).message}`);
  }
  methods = found;
  return found.size;
}

/** The message as JSON with the schema's field names, or null when no schema knows the call (or it does not decode). */
export function decodeNamed(service: string, method: string, side: 'request' | 'response', bytes: Buffer): string | null {
  const types = methods.get(`${service}/${method}`);
  if (types === undefined) return null;
  const type = side === 'request' ? types.request : types.response;
  try {
    return JSON.stringify(type.toObject(type.decode(bytes), { longs: String, bytes: String, enums: String }), null, 2);
  } catch {
    return null;
  }
}
