//! The Cloudflare Access API simulator.
