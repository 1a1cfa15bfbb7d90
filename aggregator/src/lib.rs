//! satisfy-aggregator
