//! API responses: list pages, single apps and policies, whole accounts planned against
//! the demo manifest (see `mcp_access::fuzzing::api_response`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_access::fuzzing::api_response(data));
