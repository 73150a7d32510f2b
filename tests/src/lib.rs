//! Cross-crate integration tests for cvq live in `tests/tests/`; this library is empty on
//! purpose (Cargo needs a target for the package).
