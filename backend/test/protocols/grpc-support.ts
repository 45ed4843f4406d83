/** Test support for gRPC: the fixture's echo service (echo.proto) served by @grpc/grpc-js on 127.0.0.1. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROTO = new URL('../fixtures/grpc/echo.proto', import.meta.url).pathname;

export interface EchoRequest {
  text: string;
  count?: number;
  blob?: Buffer;
  inner?: { id: string; tags: string[] };
}
export interface EchoReply {
  text: string;
  index: number;
}
type Callback = (err: grpc.ServiceError | null, reply?: EchoReply) => void;
export interface EchoClient extends grpc.Client {
  Unary(req: EchoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, cb: Callback): grpc.ClientUnaryCall;
  ServerStream(req: EchoRequest): grpc.ClientReadableStream<EchoReply>;
  ClientStream(cb: Callback): grpc.ClientWritableStream<EchoRequest>;
  Bidi(): grpc.ClientDuplexStream<EchoRequest, EchoReply>;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true });
export const Echo = (grpc.loadPackageDefinition(definition) as unknown as { tapline: { test: { Echo: grpc.ServiceClientConstructor } } }).tapline.test.Echo;
export const failure = 'no such thing: ü 100%';
export const blob = Buffer.alloc(1 << 20, 7);

/** Starts the echo server: 'fail' answers NOT_FOUND, 'sleep' never answers. */
export async function startEcho(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, cb: Callback) => {
      const { text } = call.request;
      if (text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: failure } as grpc.ServiceError);
      if (text === 'sleep') return; // never answered: the client's deadline passes
      cb(null, { text: `echo ${text}`, index: call.request.blob?.length ?? 0 });
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoRequest, EchoReply>) => {
      for (let i = 0; i < (call.request.count ?? 0); i++) call.write({ text: `part ${i}`, index: i });
      call.end();
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoRequest, EchoReply>, cb: Callback) => {
      const texts: string[] = [];
      call.on('data', (r: EchoRequest) => texts.push(r.text));
      call.on('end', () => cb(null, { text: texts.join('+'), index: texts.length }));
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoRequest, EchoReply>) => {
      let i = 0;
      call.on('data', (r: EchoRequest) => call.write({ text: `re: ${r.text}`, index: i++ }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

export const unary = (c: EchoClient, req: EchoRequest, options: grpc.CallOptions = {}, metadata = new grpc.Metadata()) =>
  new Promise<grpc.ServiceError | EchoReply>((resolve) => c.Unary(req, metadata, options, (err, reply) => resolve(err ?? reply!)));

export const echoClient = (port: number, options: Partial<grpc.ChannelOptions> = {}) =>
  new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as EchoClient;

