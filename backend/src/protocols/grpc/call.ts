/** A gRPC call from its HTTP/2 stream: service and method, message counts, status from trailers. */
import type { Exchange } from '../dissector.js';
import type { Http2Stream } from '../http2/connection.js';
import { fieldValue, regularCount } from '../http2/exchange.js';
import { grpcStatusName, MessageCounter } from './messages.js';

/** The messages each side sent, counted as DATA arrives. */
interface Counts {
  request: MessageCounter;
  response: MessageCounter;
}

const counts = new WeakMap<Http2Stream, Counts>();

/** A gRPC request: content-type application/grpc, or application/grpc+proto, +json… */
export function isGrpc(stream: Http2Stream): boolean {
  const type = fieldValue(stream.request, 'content-type');
  return type !== undefined && /^application\/grpc(?:[+;]|$)/i.test(type);
}

/** Counts the stream's messages from now on. */
export function watchGrpc(stream: Http2Stream): void {
  const c: Counts = { request: new MessageCounter(), response: new MessageCounter() };
  counts.set(stream, c);
  stream.onData = (fromClient, buf, start, end) => (fromClient ? c.request : c.response).feed(buf, start, end);
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md). */
function percentDecoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The stream's HTTP exchange `x` as a gRPC call. */
export function grpcExchange(stream: Http2Stream, x: Exchange): Exchange {
  const c = counts.get(stream);
  // The status is in the trailers, or in the headers of a trailers-only response.
  const statusFrom = stream.trailers ?? (stream.responseEnded ? stream.response : null);
  const statusText = fieldValue(statusFrom, 'grpc-status');
  const status = statusText !== undefined && /^\d{1,3}$/.test(statusText) ? Number(statusText) : -1;
  // /package.Service/Method
  const path = x.target;
  const slash = path.lastIndexOf('/');
  const service = slash > 0 ? path.slice(1, slash) : path.replace(/^\//, '');
  const method = slash > 0 ? path.slice(slash + 1) : '';
  const fields: Record<string, string | number> = {
    'grpc.service': service,
    'grpc.method': method,
    'grpc.message': percentDecoded(fieldValue(statusFrom, 'grpc-message') ?? ''),
    'grpc.request_messages': c?.request.messages ?? 0,
    'grpc.response_messages': c?.response.messages ?? 0,
    'grpc.encoding': fieldValue(stream.request, 'grpc-encoding') ?? '',
    'grpc.response_encoding': fieldValue(stream.response, 'grpc-encoding') ?? '',
    'grpc.stream_id': stream.id,
    'grpc.trailers': regularCount(stream.trailers),
    'grpc.rst_code': stream.rstCode,
  };
  if (x.status !== 0) fields['grpc.http_status'] = x.status;
  if (status >= 0) fields['grpc.status'] = status;
  return {
    ...x,
    operation: method,
    target: service,
    query: '',
    status: status >= 0 ? status : 0,
    statusText: status >= 0 ? grpcStatusName(status) : '',
    fields,
  };
}
