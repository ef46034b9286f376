//! COMPRESS (RFC 4978): algorithms.

/// `algorithm` (RFC 4978 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompressionAlgorithm {
    Deflate,
}
