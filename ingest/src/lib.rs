//! satisfy-ingest
