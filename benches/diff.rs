//! The pure core at scale: diff 10,000 apps against 2,000 policies (issue target:
//! under 100 ms), plus resolution and the fingerprint that share the hot path; and
//! selector resolution over 10,000 apps (target: it adds under 20 ms to a plan).
//!
//! Run: `cargo bench --bench diff`.

use std::fmt::Write as _;
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

/// Selector resolution over 10,000 apps (issue 14 target: it adds under 20 ms to a
/// plan). Ten servers and their ~10,000 downstream apps, declared three ways that give
/// the same plan: by uid, by ten domain globs, by ten name globs. Each iteration is
/// what a plan computes after the reads: resolve, diff, explain.
fn selectors(c: &mut Criterion) {
    const SERVERS: usize = 10;
    let s = synthetic(Shape {
        apps: 10_000,
        servers: SERVERS,
        foreign_policies: 1_000,
        missing_apps: 500,
        double_apps: 0,
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
    // Downstream app `i` belongs to server `i % 10`: the apps whose number ends in `k`.
    let by = |selector: &dyn Fn(usize) -> String| {
        let mut text = String::from("owner: bench\nservers:\n");
        for k in 0..SERVERS {
            let _ = write!(
                text,
                "  - app: {{ uid: a0000000-0000-4000-8000-{k:012} }}\n    downstream:\n      - {}\n",
                selector(k)
            );
        }
        manifest::parse_str("bench.yaml", &text, &|_| None).expect("manifest")
    };
    let exact = manifest::parse_str("bench.yaml", &s.manifest, &|_| None).expect("manifest");
    let by_domain = by(&|k| format!("{{ domain: \"app-*{k}.internal.example.com\" }}"));
    let by_name = by(&|k| format!("{{ name: \"app-*{k}\" }}"));

    let plan_of = |m: &manifest::Manifest| {
        let (desired, selection) =
            manifest::resolve_selecting(m, "bench", &inventory).expect("resolves");
        let mut plan = plan::diff(&desired, &inventory);
        plan::explain(&mut plan, &selection);
        plan
    };
    let baseline = plan_of(&exact);
    assert_eq!(baseline.summary().attach, s.missing_links);
    for m in [&by_domain, &by_name] {
        let plan = plan_of(m);
        assert_eq!(plan.summary(), baseline.summary(), "the same plan");
        assert_eq!(plan.by_cause().membership, s.missing_links);
    }

    let by_tag = manifest::parse_str(
        "bench.yaml",
        "owner: bench\nservers:\n  - app: { uid: a0000000-0000-4000-8000-000000000000 }\n    downstream: [{ tag: bench }]\n",
        &|_| None,
    )
    .expect("manifest");
    let resolve = |m: &manifest::Manifest| {
        manifest::resolve_selecting(m, "bench", &inventory).expect("resolves")
    };

    let mut group = c.benchmark_group("selectors over 10k apps (10 servers)");
    group.sample_size(20);
    group.bench_function("resolve, 9,990 exact references", |b| {
        b.iter(|| resolve(black_box(&exact)));
    });
    group.bench_function("resolve, 10 domain globs", |b| {
        b.iter(|| resolve(black_box(&by_domain)));
    });
    group.bench_function("resolve, 10 name globs", |b| {
        b.iter(|| resolve(black_box(&by_name)));
    });
    group.bench_function("resolve, 1 tag selector matching every app", |b| {
        b.iter(|| resolve(black_box(&by_tag)));
    });
    group.bench_function("plan, 9,990 exact references", |b| {
        b.iter(|| plan_of(black_box(&exact)));
    });
    group.bench_function("plan, 10 domain globs", |b| {
        b.iter(|| plan_of(black_box(&by_domain)));
    });
    group.bench_function("plan, 10 name globs", |b| {
        b.iter(|| plan_of(black_box(&by_name)));
    });
    group.finish();
}

criterion_group!(benches, bench, selectors);
criterion_main!(benches);
