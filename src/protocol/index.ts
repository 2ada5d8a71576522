// The wire protocol: frames and message codecs for both the gateway and the runner side.
// Encoders return a whole frame (header included) ready for one write; decoders take the
// payload of a frame and throw BadMessage when it is not a valid message.
export * from './constants.js'
export * from './bytes.js'
export { FrameReader, encodeFrame, type FrameHandler } from './frame.js'
export { BadMessage } from './flat-reader.js'
export * from './messages/prepare-conf.js'
export * from './messages/http-req-call.js'
export type { HeaderLines } from './messages/req-call-writer.js'
export * from './messages/http-resp-call.js'
export * from './messages/extra-info.js'
export * from './messages/err.js'
