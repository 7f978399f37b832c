//! The transaction coordinator's tests, pure: requests in, outputs out.
