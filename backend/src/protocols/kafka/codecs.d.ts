// The two decoders ship no types: the functions records.ts calls, as their sources define them.
declare module 'snappyjs' {
  /** Throws when the block's declared length exceeds maxLength, or on corrupt input. */
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer;
  const snappy: { uncompress: typeof uncompress };
  export default snappy;
}

declare module 'lz4js' {
  /** An upper bound of an LZ4 frame's decompressed size, read from its block headers. */
  export function decompressBound(src: Uint8Array): number;
  /** Decompresses an LZ4 frame into dst (writes beyond its end are dropped); returns the decompressed size. */
  export function decompressFrame(src: Uint8Array, dst: Uint8Array): number;
  const lz4: { decompressBound: typeof decompressBound; decompressFrame: typeof decompressFrame };
  export default lz4;
}
