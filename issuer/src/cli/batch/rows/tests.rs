//! Unit tests of batch row parsing.
