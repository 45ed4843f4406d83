/** Node's fetch and AbortController, also under jsdom (which has neither; see jsdom-with-fetch.mjs). */
const g = globalThis as unknown as { nodeFetch?: typeof fetch; NodeAbortController?: typeof AbortController };

export const realFetch: typeof fetch = g.nodeFetch ?? fetch;
export const RealAbortController: typeof AbortController = g.NodeAbortController ?? AbortController;
