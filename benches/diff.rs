//! The pure core at scale: diff 10,000 apps against 2,000 policies (issue target:
//! under 100 ms), plus resolution and the fingerprint that share the hot path.
//!
//! Run: `cargo bench --bench diff`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_access::cloudflare::types::{App, Policy};
use mcp_access::inventory::Inventory;
use mcp_access::manifest;
use mcp_access::plan;
use mcp_access::sim::synthetic::{Shape, synthetic};

fn bench(c: &mut Criterion) {
    let s = synthetic(Shape {
        apps: 10_000,
        servers: 1_000,
        foreign_policies: 1_000,
        missing_apps: 500,
        double_apps: 500,
    });
    let inventory = Inventory::new(
        s.seed
            .apps
            .iter()
            .cloned()
            .filter_map(App::from_value)
            .collect(),
        s.seed
            .policies
            .iter()
            .cloned()
            .filter_map(Policy::from_value)
            .collect(),
    );
    let manifest = manifest::parse_str("bench.yaml", &s.manifest, &|_| None).expect("manifest");
    let desired = manifest::resolve(&manifest, "bench", &inventory).expect("resolves");
    let plan = plan::diff(&desired, &inventory);
    assert_eq!(
        plan.summary().attach,
        s.missing_links,
        "the bench plans real work"
    );

    let mut group = c.benchmark_group("10k apps x 2k policies");
    group.sample_size(20);
    group.bench_function("diff", |b| {
        b.iter(|| plan::diff(black_box(&desired), black_box(&inventory)));
    });
    group.bench_function("resolve", |b| {
        b.iter(|| manifest::resolve(black_box(&manifest), "bench", black_box(&inventory)));
    });
    group.bench_function("fingerprint", |b| {
        b.iter(|| black_box(&inventory).fingerprint());
    });
    group.bench_function("parse manifest (1,000 servers)", |b| {
        b.iter(|| manifest::parse_str("bench.yaml", black_box(&s.manifest), &|_| None));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
