// The two codecs ship no types: the functions records.ts (and the tests, to compress) call, as their sources define them.
declare module 'snappyjs' {
  /** Throws when the block's declared length exceeds maxLength, or on corrupt input. */
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer;
  export function compress(uncompressed: Buffer): Buffer;
  const snappy: { uncompress: typeof uncompress; compress: typeof compress };
  export default snappy;
}

declare module 'lz4js' {
  /** An upper bound of an LZ4 frame's decompressed size, read from its block headers. */
  export function decompressBound(src: Uint8Array): number;
  /** Decompresses an LZ4 frame into dst (writes beyond its end are dropped); returns the decompressed size. */
  export function decompressFrame(src: Uint8Array, dst: Uint8Array): number;
  export function compress(src: Uint8Array): Uint8Array;
  const lz4: { decompressBound: typeof decompressBound; decompressFrame: typeof decompressFrame; compress: typeof compress };
  export default lz4;
}
