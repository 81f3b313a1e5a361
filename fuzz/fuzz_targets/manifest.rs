//! Manifest loading: YAML, `${VAR}` expansion, validation, resolution and a plan
//! (see `mcp_access::fuzzing::manifest` for the input layout and what is checked).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mcp_access::fuzzing::manifest(data));
