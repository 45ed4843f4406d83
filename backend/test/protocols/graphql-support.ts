/**
 * Test support for GraphQL: a real GraphQL server on loopback, `graphql` (the reference
 * implementation) behind `graphql-http`'s Node handler at /graphql, and at /batch a tiny batching
 * handler of the tests' own (graphql-http does not batch) that runs each operation of a JSON array
 * through the same schema with graphql's own `graphql()`.
 */
import { once } from 'node:events';
import http from 'node:http';
import { buildSchema, graphql, type GraphQLSchema } from 'graphql';
import { createHandler } from 'graphql-http/lib/use/http';

export const SECRET_PASSWORD = 'hunter2-graphql-secret';
export const SECRET_TOKEN = 'tok-9f8e7d6c5b4a-graphql';

export const schema: GraphQLSchema = buildSchema(`
  type User { id: ID!, name: String! }
  type Session { token: String!, user: User! }
  type Query { users: [User!]!, user(id: ID!): User, broken: String }
  type Mutation { login(username: String!, password: String!): Session, rename(id: ID!, name: String!): User }
`);

const users = [{ id: '1', name: 'ada' }, { id: '2', name: 'grace' }];
export const root = {
  users: () => users,
  user: ({ id }: { id: string }) => users.find((u) => u.id === id) ?? null,
  broken: () => {
    throw new Error('the resolver failed');
  },
  login: ({ username, password }: { username: string; password: string }) => {
    if (password !== SECRET_PASSWORD) throw new Error('wrong password');
    return { token: SECRET_TOKEN, user: users.find((u) => u.name === username) ?? users[0] };
  },
  rename: ({ id, name }: { id: string; name: string }) => {
    const u = users.find((x) => x.id === id);
    if (u) u.name = name;
    return u ?? null;
  },
};

export class GraphqlServer {
  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(port: number): Promise<GraphqlServer> {
    const handler = createHandler({ schema, rootValue: root });
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/graphql')) {
        void handler(req, res);
        return;
      }
      if (req.url === '/batch' && req.method === 'POST') {
        let body = '';
        req.on('data', (d) => (body += d));
        req.on('end', () => {
          void (async () => {
            const ops = JSON.parse(body) as Array<{ query: string; variables?: Record<string, unknown>; operationName?: string }>;
            const results = await Promise.all(ops.map((op) => graphql({ schema, rootValue: root, source: op.query, variableValues: op.variables, operationName: op.operationName })));
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify(results));
          })();
        });
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    server.keepAliveTimeout = 5000;
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return new GraphqlServer(server, port);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close');
  }
}

/** One HTTP exchange as tshark reads it, with the JSON paths of both bodies (its `json` dissector). */
export interface TsharkGraphql {
  clientPort: number;
  method: string;
  uri: string;
  status: number;
  /** `json.path_with_value` of the request and response bodies: "/query:{ users { id } }", "/errors/[]/message:…". */
  request: string[];
  response: string[];
}

const AGG = '\x1f';

/** Every HTTP request on `port` with its response: per connection, in order (HTTP/1.1 answers first come, first served). */
export async function tsharkGraphql(file: string, port: number): Promise<TsharkGraphql[]> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const args = ['-r', file, '-n', '-o', 'tcp.reassemble_out_of_order:TRUE', '-d', `tcp.port==${port},http`, '-Y', 'http', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', `aggregator=${AGG}`];
  for (const f of ['tcp.srcport', 'tcp.dstport', 'http.request.method', 'http.request.uri', 'http.response.code', 'json.path_with_value']) args.push('-e', f);
  const { stdout } = await promisify(execFile)('tshark', args, { maxBuffer: 1 << 28 });
  const all: TsharkGraphql[] = [];
  const waiting = new Map<number, TsharkGraphql[]>();
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [sport, dport, method, uri, code, json] = line.split('\t');
    const paths = json ? json.split(AGG) : [];
    if (method) {
      const x: TsharkGraphql = { clientPort: Number(sport), method, uri, status: 0, request: paths, response: [] };
      all.push(x);
      waiting.set(x.clientPort, [...(waiting.get(x.clientPort) ?? []), x]);
    } else if (code) {
      const x = waiting.get(Number(dport))?.shift();
      if (x) {
        x.status = Number(code);
        x.response = paths;
      }
    }
  }
  return all;
}
