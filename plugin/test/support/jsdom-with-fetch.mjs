// jsdom has no fetch; the Grafana runtime stand-ins reach loopback servers with Node's own fetch
// and AbortController, handed in under names that say where they come from.
import { TestEnvironment } from 'jest-environment-jsdom';

export default class JsdomWithNodeFetch extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.global.nodeFetch = fetch;
    this.global.NodeAbortController = AbortController;
    this.global.TextEncoder ??= TextEncoder;
    this.global.TextDecoder ??= TextDecoder;
  }
}
