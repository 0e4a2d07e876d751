//! Rollups kept current batch by batch equal a full recomputation, replays included.

use chrono::{Duration, Utc};
use tollgate_store::usage::UsageRecord;
use tollgate_store::Store;
use tollgate_testkit::{backend_tests, TestDb};
use uuid::Uuid;

use crate::tenant_with_app;

backend_tests!(incremental_rollups_equal_recomputation);

async fn buckets(store: &Store) -> Vec<String> {
    let mut rows = store
        .strings_raw(
            "SELECT CAST(bucket_start AS TEXT) || model || CAST(team_id AS TEXT) || '|' || CAST(request_count AS TEXT) || '|' || CAST(error_count AS TEXT) || '|' || CAST(tokens_used AS TEXT) || '|' || CAST(cost_micros AS TEXT) FROM usage_hourly
             UNION ALL
             SELECT CAST(day AS TEXT) || grain || CAST(dim_id AS TEXT) || model || '|' || CAST(request_count AS TEXT) || '|' || CAST(error_count AS TEXT) || '|' || CAST(tokens_used AS TEXT) || '|' || CAST(cost_micros AS TEXT) FROM usage_daily",
        )
        .await
        .unwrap();
    rows.sort();
    rows
}

async fn incremental_rollups_equal_recomputation(db: TestDb) {
    let store = db.migrated().await;
    let (tenant, app) = tenant_with_app(&store, "rollup@example.com").await;
    let teams = [Some(Uuid::new_v4()), Some(Uuid::new_v4()), None];
    let now = Utc::now();
    let records: Vec<UsageRecord> = (0..300)
        .map(|i: i64| UsageRecord {
            id: Uuid::now_v7(),
            tenant_id: tenant,
            app_id: Some(app),
            api_key_id: None,
            team_id: teams[(i % 3) as usize],
            subject_id: Some(Uuid::from_u128((i % 7) as u128 + 1)),
            device_id: None,
            provider: "mock".into(),
            model: if i % 2 == 0 {
                "mock-small".into()
            } else {
                "mock-large".into()
            },
            endpoint: tollgate_store::usage::Endpoint::Chat,
            prompt_length: 10,
            pii_detected: i % 5 == 0,
            pii_types: Vec::new(),
            prompt_tokens: (i % 50) as i32,
            completion_tokens: (i % 30) as i32,
            cost_micros: i,
            credits_deducted: 0,
            latency_ms: Some(3),
            upstream_latency_ms: None,
            error_type: (i % 11 == 0).then(|| "upstream_error".to_string()),
            http_status: Some(200),
            streamed: false,
            created_at: now - Duration::minutes(i * 17),
        })
        .collect();
    for batch in records.chunks(70) {
        store.insert_usage(batch, None).await.unwrap();
    }
    // A replayed batch adds nothing.
    assert_eq!(
        store.insert_usage(&records[100..180], None).await.unwrap(),
        0
    );
    let incremental = buckets(&store).await;
    assert!(!incremental.is_empty());

    store.execute_raw("DELETE FROM usage_hourly").await.unwrap();
    store.execute_raw("DELETE FROM usage_daily").await.unwrap();
    store
        .rollup_usage(tenant, now - Duration::minutes(300 * 17), now)
        .await
        .unwrap();
    assert_eq!(buckets(&store).await, incremental);
}
