/** Reads a server-sent events answer (stream tests and bench/hub-stream-latency): each event's name and parsed data. */
export async function readSse(res: Response, onEvent: (event: string, data: unknown) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const lines = buf.slice(0, end).split('\n');
        buf = buf.slice(end + 2);
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
        onEvent(event, data === undefined ? undefined : JSON.parse(data));
      }
    }
  } catch (err) {
    // The test aborts the request to end the stream.
    if ((err as Error).name !== 'AbortError') throw err;
  }
}
