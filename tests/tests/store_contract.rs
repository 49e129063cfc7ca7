//! The `Store` contract, run against both implementations: the embedded store and DynamoDB
//! (moto, at `DYNAMODB_ENDPOINT`). Every test body runs once per backend; a failure names the
//! backend.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::stores::{all_stores, dynamodb_client, unique_name};
use shared::store::dynamo::DynamoStore;
use shared::store::embedded::EmbeddedStore;
use shared::store::{
    item, Attr, Cond, Item, Store, StoreError, Write, DUEAT, DUEPK, GSI1PK, SK, TTL,
};

/// Runs `body` against every backend (concurrently, each in its own task so that a panic in one
/// does not hide the other's result) and fails naming the backends that failed.
async fn for_each_store<F, Fut>(body: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let tasks: Vec<_> = all_stores()
        .await
        .into_iter()
        .map(|(name, store)| {
            assert_eq!(store.kind(), name);
            (name, tokio::spawn(body(store)))
        })
        .collect();
    let mut failures = Vec::new();
    for (name, task) in tasks {
        if let Err(e) = task.await {
            let msg = match e.try_into_panic() {
                Ok(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default(),
                Err(e) => e.to_string(),
            };
            failures.push(format!("[{name}] {msg}"));
        }
    }
    assert!(failures.is_empty(), "failed on:\n{}", failures.join("\n"));
}

fn with(mut it: Item, attrs: &[(&str, Attr)]) -> Item {
    for (k, v) in attrs {
        it.insert(k.to_string(), v.clone());
    }
    it
}

fn s(v: &str) -> Attr {
    Attr::S(v.to_string())
}

#[track_caller]
fn assert_cond_failed<T: std::fmt::Debug>(r: Result<T, StoreError>) {
    assert!(
        matches!(r, Err(StoreError::ConditionFailed)),
        "expected ConditionFailed, got {r:?}"
    );
}

fn sks(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|i| i[SK].as_str().unwrap_or("?").to_string())
        .collect()
}

#[tokio::test]
async fn put_get_round_trips_every_attr_kind() {
    for_each_store(|st| async move {
        let it = with(
            item("p#1", "s#1"),
            &[
                ("empty", s("")),
                ("text", s("héllo ✓ \"quoted\" \n newline")),
                ("zero", Attr::N(0)),
                ("neg", Attr::N(-42)),
                ("max", Attr::N(i64::MAX)),
                ("min", Attr::N(i64::MIN)),
                ("yes", Attr::Bool(true)),
                ("no", Attr::Bool(false)),
                (GSI1PK, s("portal#1")),
                (TTL, Attr::N(4_102_444_800)),
            ],
        );
        st.put(it.clone(), Cond::None).await.unwrap();
        assert_eq!(st.get("p#1", "s#1").await.unwrap(), Some(it.clone()));
        assert_eq!(st.get("p#1", "s#2").await.unwrap(), None);
        assert_eq!(st.get("p#2", "s#1").await.unwrap(), None);

        // Unconditional put replaces the whole item (attributes not in the new one are gone).
        let smaller = with(item("p#1", "s#1"), &[("text", s("new"))]);
        st.put(smaller.clone(), Cond::None).await.unwrap();
        assert_eq!(st.get("p#1", "s#1").await.unwrap(), Some(smaller));
    })
    .await;
}

#[tokio::test]
async fn invalid_keys_are_malformed_and_write_nothing() {
    for_each_store(|st| async move {
        let malformed = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Malformed { .. }));
        let mut no_sk = item("p", "s");
        no_sk.remove(SK);
        assert!(malformed(st.put(no_sk, Cond::None).await));
        let mut numeric_pk = item("p", "s");
        numeric_pk.insert("pk".into(), Attr::N(1));
        assert!(malformed(st.put(numeric_pk, Cond::None).await));
        // DynamoDB forbids empty strings in key attributes, the index key included.
        assert!(malformed(st.put(item("", "s"), Cond::None).await));
        assert!(malformed(st.put(item("p", ""), Cond::None).await));
        assert!(malformed(
            st.put(with(item("p", "s"), &[(GSI1PK, s(""))]), Cond::None)
                .await
        ));
        assert!(malformed(
            st.put(with(item("p", "s"), &[(GSI1PK, Attr::N(3))]), Cond::None)
                .await
        ));
        let tx = vec![
            Write::Put {
                item: item("p", "ok"),
                cond: Cond::None,
            },
            Write::Put {
                item: item("p", ""),
                cond: Cond::None,
            },
        ];
        assert!(matches!(
            st.transact(tx).await,
            Err(StoreError::Malformed { .. })
        ));
        assert!(st.query("p", "").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn every_condition_passes_and_fails() {
    for_each_store(|st| async move {
        let v1 = with(item("p", "k"), &[("v", Attr::N(1)), ("state", s("a"))]);
        let v2 = with(item("p", "k"), &[("v", Attr::N(2)), ("state", s("b"))]);
        let get = || st.get("p", "k");

        // Absent item.
        assert_cond_failed(st.put(v1.clone(), Cond::Exists).await);
        assert_cond_failed(
            st.put(v1.clone(), Cond::Equals("v".into(), Attr::N(1)))
                .await,
        );
        assert_eq!(get().await.unwrap(), None);
        st.put(v1.clone(), Cond::NotExists).await.unwrap();
        assert_eq!(get().await.unwrap(), Some(v1.clone()));

        // Present item: each failing condition leaves it as it was.
        assert_cond_failed(st.put(v2.clone(), Cond::NotExists).await);
        assert_cond_failed(
            st.put(v2.clone(), Cond::Equals("v".into(), Attr::N(2)))
                .await,
        );
        assert_cond_failed(st.put(v2.clone(), Cond::Equals("v".into(), s("1"))).await); // type matters
        assert_cond_failed(
            st.put(v2.clone(), Cond::Equals("missing".into(), Attr::N(1)))
                .await,
        );
        assert_cond_failed(
            st.put(v2.clone(), Cond::MissingOrEquals("state".into(), s("z")))
                .await,
        );
        assert_cond_failed(
            st.put(v2.clone(), Cond::NotExistsOrExpired { now: 0 })
                .await,
        );
        assert_eq!(get().await.unwrap(), Some(v1.clone()));

        st.put(v2.clone(), Cond::Exists).await.unwrap();
        assert_eq!(get().await.unwrap(), Some(v2.clone()));
        st.put(v1.clone(), Cond::Equals("v".into(), Attr::N(2)))
            .await
            .unwrap();
        assert_eq!(get().await.unwrap(), Some(v1.clone()));
        st.put(v2.clone(), Cond::MissingOrEquals("state".into(), s("a")))
            .await
            .unwrap();
        st.put(v1.clone(), Cond::MissingOrEquals("other".into(), s("x")))
            .await
            .unwrap();
        st.put(v2.clone(), Cond::Equals("state".into(), s("a")))
            .await
            .unwrap();
        st.put(v1.clone(), Cond::Equals("v".into(), Attr::N(2)))
            .await
            .unwrap();
        assert_eq!(get().await.unwrap(), Some(v1.clone()));

        // Bool and attribute names that need placeholders (reserved words, '#', '.').
        let odd = with(
            item("p", "odd"),
            &[
                ("status", Attr::Bool(true)),
                ("a.b#c", s("x")),
                ("ttl", Attr::N(5)),
            ],
        );
        st.put(
            odd.clone(),
            Cond::MissingOrEquals("status".into(), Attr::Bool(true)),
        )
        .await
        .unwrap();
        st.put(odd.clone(), Cond::Equals("status".into(), Attr::Bool(true)))
            .await
            .unwrap();
        assert_cond_failed(
            st.put(
                odd.clone(),
                Cond::Equals("status".into(), Attr::Bool(false)),
            )
            .await,
        );
        st.put(odd.clone(), Cond::Equals("a.b#c".into(), s("x")))
            .await
            .unwrap();
        assert_cond_failed(
            st.put(odd.clone(), Cond::Equals("a.b#c".into(), s("y")))
                .await,
        );

        // MissingOrEquals on an absent item holds.
        st.put(
            item("p", "fresh"),
            Cond::MissingOrEquals("v".into(), Attr::N(9)),
        )
        .await
        .unwrap();
        assert_eq!(
            st.get("p", "fresh").await.unwrap(),
            Some(item("p", "fresh"))
        );
    })
    .await;
}

#[tokio::test]
async fn not_exists_or_expired_respects_ttl() {
    for_each_store(|st| async move {
        let now = 1_700_000_000;
        let lease = |owner: &str, ttl: i64| {
            with(
                item("lease", "l"),
                &[("owner", s(owner)), (TTL, Attr::N(ttl))],
            )
        };

        st.put(lease("a", now - 10), Cond::NotExistsOrExpired { now })
            .await
            .unwrap(); // absent
                       // Past ttl: the old item counts as gone.
        st.put(lease("b", now + 60), Cond::NotExistsOrExpired { now })
            .await
            .unwrap();
        assert_eq!(
            st.get("lease", "l").await.unwrap(),
            Some(lease("b", now + 60))
        );
        // Future ttl (and ttl == now, which is not yet before now): live, so it fails.
        assert_cond_failed(
            st.put(lease("c", now + 120), Cond::NotExistsOrExpired { now })
                .await,
        );
        assert_cond_failed(
            st.put(lease("c", now), Cond::NotExistsOrExpired { now: now + 60 })
                .await,
        );
        assert_eq!(
            st.get("lease", "l").await.unwrap(),
            Some(lease("b", now + 60))
        );
        st.put(
            lease("c", now + 200),
            Cond::NotExistsOrExpired { now: now + 61 },
        )
        .await
        .unwrap();

        // An item without ttl never expires.
        st.put(item("lease", "forever"), Cond::None).await.unwrap();
        assert_cond_failed(
            st.put(
                item("lease", "forever"),
                Cond::NotExistsOrExpired { now: i64::MAX },
            )
            .await,
        );

        // Deletes use the same condition.
        assert_cond_failed(
            st.delete("lease", "l", Cond::NotExistsOrExpired { now })
                .await,
        );
        let old = st
            .delete("lease", "l", Cond::NotExistsOrExpired { now: now + 201 })
            .await
            .unwrap();
        assert_eq!(old, Some(lease("c", now + 200)));
    })
    .await;
}

#[tokio::test]
async fn delete_returns_old_item_and_respects_conditions() {
    for_each_store(|st| async move {
        let it = with(
            item("p", "d"),
            &[("v", Attr::N(7)), ("flag", Attr::Bool(false))],
        );
        assert_eq!(st.delete("p", "d", Cond::None).await.unwrap(), None);
        assert_cond_failed(st.delete("p", "d", Cond::Exists).await);
        assert_cond_failed(
            st.delete("p", "d", Cond::Equals("v".into(), Attr::N(7)))
                .await,
        );
        // Conditions that hold on an absent item: nothing to delete, no error.
        assert_eq!(st.delete("p", "d", Cond::NotExists).await.unwrap(), None);
        assert_eq!(
            st.delete("p", "d", Cond::MissingOrEquals("v".into(), Attr::N(1)))
                .await
                .unwrap(),
            None
        );

        st.put(it.clone(), Cond::None).await.unwrap();
        assert_cond_failed(st.delete("p", "d", Cond::NotExists).await);
        assert_cond_failed(
            st.delete("p", "d", Cond::Equals("v".into(), Attr::N(8)))
                .await,
        );
        assert_cond_failed(
            st.delete(
                "p",
                "d",
                Cond::MissingOrEquals("flag".into(), Attr::Bool(true)),
            )
            .await,
        );
        assert_eq!(st.get("p", "d").await.unwrap(), Some(it.clone()));

        let old = st
            .delete("p", "d", Cond::Equals("v".into(), Attr::N(7)))
            .await
            .unwrap();
        assert_eq!(old, Some(it.clone()));
        assert_eq!(st.get("p", "d").await.unwrap(), None);

        st.put(it.clone(), Cond::None).await.unwrap();
        assert_eq!(st.delete("p", "d", Cond::Exists).await.unwrap(), Some(it));
        assert_eq!(st.delete("p", "d", Cond::None).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn query_filters_by_prefix_in_sort_key_order() {
    for_each_store(|st| async move {
        // Inserted out of order; includes keys that sort around the prefix.
        for sk in [
            "msg#b", "msg#", "msg#a#2", "msg", "msg#a#10", "msf#z", "msh", "other", "msg#a#1",
            "Msg#a",
        ] {
            st.put(item("conv#1", sk), Cond::None).await.unwrap();
        }
        st.put(item("conv#2", "msg#a#0"), Cond::None).await.unwrap();
        st.put(item("conv#", "msg#a#0"), Cond::None).await.unwrap();

        let q = |p: &'static str| {
            let st = st.clone();
            async move { sks(&st.query("conv#1", p).await.unwrap()) }
        };
        assert_eq!(
            q("msg#").await,
            ["msg#", "msg#a#1", "msg#a#10", "msg#a#2", "msg#b"]
        );
        assert_eq!(q("msg#a#").await, ["msg#a#1", "msg#a#10", "msg#a#2"]);
        assert_eq!(q("msg#a#1").await, ["msg#a#1", "msg#a#10"]);
        assert_eq!(q("msg#b#").await, Vec::<String>::new());
        assert_eq!(q("x").await, Vec::<String>::new());
        assert_eq!(
            q("").await,
            [
                "Msg#a", "msf#z", "msg", "msg#", "msg#a#1", "msg#a#10", "msg#a#2", "msg#b", "msh",
                "other"
            ]
        );
        assert!(st.query("conv#3", "").await.unwrap().is_empty());
        assert_eq!(
            st.query("conv#", "").await.unwrap(),
            vec![item("conv#", "msg#a#0")]
        );
    })
    .await;
}

#[tokio::test]
async fn query_returns_every_page() {
    // 300 items of about 4 KB: 1.2 MB, beyond DynamoDB's (and moto's) 1 MB page.
    const N: usize = 300;
    for_each_store(|st| async move {
        let blob = "x".repeat(4000);
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in 0..10 {
            let (st, blob) = (st.clone(), blob.clone());
            tasks.spawn(async move {
                for i in (chunk..N).step_by(10) {
                    let it = with(
                        item("big", format!("row#{i:04}")),
                        &[("blob", s(&blob)), ("i", Attr::N(i as i64))],
                    );
                    st.put(it, Cond::None).await.unwrap();
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
        st.put(item("big", "zzz"), Cond::None).await.unwrap();

        let rows = st.query("big", "row#").await.unwrap();
        assert_eq!(rows.len(), N);
        let expected: Vec<String> = (0..N).map(|i| format!("row#{i:04}")).collect();
        assert_eq!(sks(&rows), expected);
        assert!(rows
            .iter()
            .enumerate()
            .all(|(i, r)| r["i"] == Attr::N(i as i64) && r["blob"] == s(&blob)));
        assert_eq!(st.query("big", "").await.unwrap().len(), N + 1);
    })
    .await;
}

#[tokio::test]
async fn portal_index_finds_items_of_a_portal_across_partitions() {
    for_each_store(|st| async move {
        let tag = |pk: &str, sk: &str, portal: &str| with(item(pk, sk), &[(GSI1PK, s(portal))]);
        let mine = vec![
            tag("install#1", "meta", "portal#1"),
            tag("thread#9", "map", "portal#1"),
            tag("user#3", "u", "portal#1"),
        ];
        for it in &mine {
            st.put(it.clone(), Cond::None).await.unwrap();
        }
        st.put(tag("install#2", "meta", "portal#2"), Cond::None)
            .await
            .unwrap();
        st.put(tag("install#3", "meta", "portal#10"), Cond::None)
            .await
            .unwrap();
        st.put(item("untagged", "x"), Cond::None).await.unwrap();

        let mut found = st.query_portal_index("portal#1").await.unwrap();
        found.sort_by(|a, b| a["pk"].as_str().cmp(&b["pk"].as_str()));
        assert_eq!(found, mine);
        assert_eq!(st.query_portal_index("portal#2").await.unwrap().len(), 1);
        assert!(st.query_portal_index("portal#").await.unwrap().is_empty());
        assert!(st.query_portal_index("none").await.unwrap().is_empty());

        // Deleted items leave the index.
        st.delete("thread#9", "map", Cond::None).await.unwrap();
        assert_eq!(st.query_portal_index("portal#1").await.unwrap().len(), 2);
    })
    .await;
}

#[tokio::test]
async fn get_many_answers_each_key_in_order_absent_ones_as_none() {
    for_each_store(|st| async move {
        for (pk, sk) in [("a", "1"), ("b", "2"), ("c", "3")] {
            st.put(with(item(pk, sk), &[("v", s(pk))]), Cond::None)
                .await
                .unwrap();
        }
        let k = |pk: &str, sk: &str| (pk.to_string(), sk.to_string());
        let got = st
            .get_many(&[k("c", "3"), k("x", "9"), k("a", "1"), k("b", "9")])
            .await
            .unwrap();
        let vals: Vec<Option<String>> = got
            .iter()
            .map(|i| i.as_ref().and_then(|i| i["v"].as_str().map(str::to_string)))
            .collect();
        assert_eq!(vals, [Some("c".into()), None, Some("a".into()), None]);
        assert!(st.get_many(&[]).await.unwrap().is_empty());
        // As strongly consistent as get: a write just made is seen.
        st.put(with(item("x", "9"), &[("v", s("x"))]), Cond::None)
            .await
            .unwrap();
        assert!(st.get_many(&[k("x", "9")]).await.unwrap()[0].is_some());
    })
    .await;
}

#[tokio::test]
async fn the_timer_index_finds_what_is_due_soonest_first_and_only_that() {
    for_each_store(|st| async move {
        let timer = |pk: &str, kind: &str, at: i64| {
            with(item(pk, "CONV"), &[(DUEPK, s(kind)), (DUEAT, Attr::N(at))])
        };
        for it in [
            timer("c#3", "CARD", 300),
            timer("c#1", "CARD", 100),
            timer("c#2", "CARD", 200),
            timer("c#9", "CARD", 900),
            timer("a#1", "ALERT", 50),
        ] {
            st.put(it, Cond::None).await.unwrap();
        }
        // Not in the index: no timer.
        st.put(item("c#0", "CONV"), Cond::None).await.unwrap();
        let pks = |items: Vec<Item>| -> Vec<String> {
            items
                .iter()
                .map(|i| i["pk"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        assert_eq!(
            pks(st.query_due("CARD", 300, 10).await.unwrap()),
            ["c#1", "c#2", "c#3"]
        );
        assert_eq!(
            pks(st.query_due("CARD", 300, 2).await.unwrap()),
            ["c#1", "c#2"]
        );
        assert_eq!(pks(st.query_due("ALERT", 1000, 10).await.unwrap()), ["a#1"]);
        assert!(st.query_due("CARD", 99, 10).await.unwrap().is_empty());
        // A timer cleared (the item saved without it) leaves the index.
        st.put(item("c#1", "CONV"), Cond::None).await.unwrap();
        assert_eq!(
            pks(st.query_due("CARD", 300, 10).await.unwrap()),
            ["c#2", "c#3"]
        );
    })
    .await;
}

#[tokio::test]
async fn dynamodb_table_made_before_the_timer_index_gets_it() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let client = dynamodb_client().await;
    let table = unique_name("store-test-old");
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(attr("pk"))
        .attribute_definitions(attr("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let st = DynamoStore::new(client, table);
    assert!(st.query_due("CARD", 10, 10).await.is_err(), "no index yet");
    st.create_table_if_missing().await.unwrap();
    st.put(
        with(
            item("c#1", "CONV"),
            &[(DUEPK, s("CARD")), (DUEAT, Attr::N(5))],
        ),
        Cond::None,
    )
    .await
    .unwrap();
    assert_eq!(st.query_due("CARD", 10, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn transact_is_all_or_nothing() {
    for_each_store(|st| async move {
        let a = with(item("t", "a"), &[("v", Attr::N(1))]);
        st.put(a.clone(), Cond::None).await.unwrap();
        st.put(item("t", "b"), Cond::None).await.unwrap();
        let before = st.query("t", "").await.unwrap();

        // The last write's condition fails: none of the others happen.
        let tx = vec![
            Write::Put {
                item: item("t", "new1"),
                cond: Cond::NotExists,
            },
            Write::Put {
                item: with(item("t", "a"), &[("v", Attr::N(2))]),
                cond: Cond::Equals("v".into(), Attr::N(1)),
            },
            Write::Delete {
                pk: "t".into(),
                sk: "b".into(),
                cond: Cond::Exists,
            },
            Write::Put {
                item: item("t", "new2"),
                cond: Cond::None,
            },
            Write::Delete {
                pk: "t".into(),
                sk: "absent".into(),
                cond: Cond::Exists,
            },
        ];
        assert_cond_failed(st.transact(tx).await);
        assert_eq!(st.query("t", "").await.unwrap(), before);

        // A failing first write, a failing delete condition on a present item.
        let tx = vec![
            Write::Put {
                item: item("t", "a"),
                cond: Cond::NotExists,
            },
            Write::Put {
                item: item("t", "new1"),
                cond: Cond::None,
            },
        ];
        assert_cond_failed(st.transact(tx).await);
        let tx = vec![
            Write::Put {
                item: item("t", "new1"),
                cond: Cond::None,
            },
            Write::Delete {
                pk: "t".into(),
                sk: "a".into(),
                cond: Cond::Equals("v".into(), Attr::N(5)),
            },
        ];
        assert_cond_failed(st.transact(tx).await);
        assert_eq!(st.query("t", "").await.unwrap(), before);

        // All conditions hold: everything happens.
        let a2 = with(item("t", "a"), &[("v", Attr::N(2))]);
        let tx = vec![
            Write::Put {
                item: item("t", "new1"),
                cond: Cond::NotExists,
            },
            Write::Put {
                item: a2.clone(),
                cond: Cond::Equals("v".into(), Attr::N(1)),
            },
            Write::Delete {
                pk: "t".into(),
                sk: "b".into(),
                cond: Cond::Exists,
            },
            Write::Delete {
                pk: "t".into(),
                sk: "absent".into(),
                cond: Cond::None,
            },
            Write::Put {
                item: item("t", "new2"),
                cond: Cond::NotExistsOrExpired { now: 0 },
            },
        ];
        st.transact(tx).await.unwrap();
        assert_eq!(
            st.query("t", "").await.unwrap(),
            vec![a2, item("t", "new1"), item("t", "new2")]
        );
        let after = st.query("t", "").await.unwrap();

        // Over 100 writes, or the same key twice: rejected as a backend error, nothing written.
        let many = (0..101)
            .map(|i| Write::Put {
                item: item("t", format!("m{i:03}")),
                cond: Cond::None,
            })
            .collect();
        let r = st.transact(many).await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
        let dup = vec![
            Write::Put {
                item: item("t", "dup"),
                cond: Cond::None,
            },
            Write::Delete {
                pk: "t".into(),
                sk: "dup".into(),
                cond: Cond::None,
            },
        ];
        let r = st.transact(dup).await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
        assert_eq!(st.query("t", "").await.unwrap(), after);

        // Exactly 100 is allowed; an empty transaction is a no-op.
        let hundred = (0..100)
            .map(|i| Write::Put {
                item: item("t", format!("m{i:03}")),
                cond: Cond::NotExists,
            })
            .collect();
        st.transact(hundred).await.unwrap();
        assert_eq!(st.query("t", "m").await.unwrap().len(), 100);
        st.transact(Vec::new()).await.unwrap();
    })
    .await;
}

// Several worker threads, so that the embedded store's puts really contend (on the default
// single-threaded test runtime they could never overlap).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_has_exactly_one_winner() {
    for_each_store(|st| async move {
        for round in 0..3 {
            let sk = format!("race#{round}");
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let st = st.clone();
                    let it = with(item("race", sk.clone()), &[("winner", Attr::N(i))]);
                    tokio::spawn(async move { st.put(it, Cond::NotExists).await })
                })
                .collect();
            let (mut ok, mut lost, mut other) = (Vec::new(), 0, Vec::new());
            for (i, t) in tasks.into_iter().enumerate() {
                match t.await.unwrap() {
                    Ok(()) => ok.push(i as i64),
                    Err(StoreError::ConditionFailed) => lost += 1,
                    Err(e) => other.push(e.to_string()),
                }
            }
            assert!(
                other.is_empty(),
                "round {round}: unexpected errors {other:?}"
            );
            assert_eq!((ok.len(), lost), (1, 19), "round {round}: winners {ok:?}");
            let stored = st.get("race", &sk).await.unwrap().unwrap();
            assert_eq!(
                stored["winner"],
                Attr::N(ok[0]),
                "round {round}: the stored item is the winner's"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn dynamodb_items_of_foreign_shape_are_malformed() {
    // Raw SDK writes need the table name, so name the table here rather than via dynamo_store().
    let client = dynamodb_client().await;
    let table = unique_name("store-test-foreign");
    let st = DynamoStore::new(client.clone(), table.clone());
    st.create_table_if_missing().await.unwrap();
    st.create_table_if_missing().await.unwrap(); // idempotent

    let key = |sk: &str| -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S("p".into())),
            ("sk".to_string(), AttributeValue::S(sk.into())),
        ])
    };
    let raw = |sk: &str, name: &str, v: AttributeValue| {
        let mut m = key(sk);
        m.insert(name.to_string(), v);
        m
    };
    for (sk, v) in [
        ("fraction", AttributeValue::N("1.5".into())),
        ("huge", AttributeValue::N("9223372036854775808".into())),
        (
            "list",
            AttributeValue::L(vec![AttributeValue::S("x".into())]),
        ),
        ("set", AttributeValue::Ss(vec!["x".into()])),
        ("null", AttributeValue::Null(true)),
    ] {
        client
            .put_item()
            .table_name(&table)
            .set_item(Some(raw(sk, "v", v)))
            .send()
            .await
            .unwrap();
        let r = st.get("p", sk).await;
        match r {
            Err(StoreError::Malformed {
                pk,
                sk: got,
                reason,
            }) => {
                assert_eq!((pk.as_str(), got.as_str()), ("p", sk));
                assert!(reason.contains("attribute v"), "{reason}");
            }
            other => panic!("{sk}: expected Malformed, got {other:?}"),
        }
    }
    // A malformed item makes the whole query fail rather than vanish silently.
    assert!(matches!(
        st.query("p", "").await,
        Err(StoreError::Malformed { .. })
    ));
}

#[tokio::test]
async fn dynamodb_backend_errors_carry_code_and_message() {
    let client = dynamodb_client().await;
    let st = DynamoStore::new(client, unique_name("store-test-missing"));
    // The table was never created.
    let r = st.get("p", "s").await;
    match r {
        Err(StoreError::Backend(msg)) => {
            assert!(msg.contains("ResourceNotFoundException"), "{msg}")
        }
        other => panic!("expected Backend, got {other:?}"),
    }
    let r = st
        .put(
            with(item("p", "s"), &[("secret", s("hunter2"))]),
            Cond::None,
        )
        .await;
    match r {
        Err(StoreError::Backend(msg)) => assert!(!msg.contains("hunter2"), "{msg}"),
        other => panic!("expected Backend, got {other:?}"),
    }
}

#[tokio::test]
async fn embedded_snapshot_survives_reopen() {
    let dir = std::env::temp_dir().join(unique_name("store-snapshot"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("table.json");
    let a = with(
        item("p", "a"),
        &[
            ("s", s("")),
            ("max", Attr::N(i64::MAX)),
            ("min", Attr::N(i64::MIN)),
            ("b", Attr::Bool(false)),
            (GSI1PK, s("portal")),
        ],
    );
    {
        let st = EmbeddedStore::open(&path).unwrap();
        assert!(st.query("p", "").await.unwrap().is_empty());
        st.put(a.clone(), Cond::NotExists).await.unwrap();
        st.put(item("p", "b"), Cond::None).await.unwrap();
        st.transact(vec![
            Write::Put {
                item: item("p", "c"),
                cond: Cond::NotExists,
            },
            Write::Delete {
                pk: "p".into(),
                sk: "b".into(),
                cond: Cond::Exists,
            },
        ])
        .await
        .unwrap();
        assert_cond_failed(st.put(item("p", "c"), Cond::NotExists).await);
    }
    assert!(
        !dir.join("table.json.tmp").exists(),
        "the temp file is renamed into place"
    );

    let st = EmbeddedStore::open(&path).unwrap();
    assert_eq!(
        st.query("p", "").await.unwrap(),
        vec![a.clone(), item("p", "c")]
    );
    assert_eq!(st.query_portal_index("portal").await.unwrap(), vec![a]);
    assert_cond_failed(st.put(item("p", "c"), Cond::NotExists).await);
    st.delete("p", "c", Cond::Exists).await.unwrap();
    drop(st);
    assert_eq!(
        EmbeddedStore::open(&path)
            .unwrap()
            .get("p", "c")
            .await
            .unwrap(),
        None
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
