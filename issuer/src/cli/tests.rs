//! Unit tests of the CLI argument parsing.
