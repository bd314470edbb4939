//! Zero-copy packet views (smoltcp style) for the protocols rvs parses.
