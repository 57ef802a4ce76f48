//! Shared helpers for the root-only integration tests (filled in with the tests).
