//! Bursts against fakes that hold to the platforms' rate limits (`integration_tests::limits`:
//! HubSpot's 110 per 10 s per portal, Slack's one post a second per channel and tier 3),
//! over real HTTP through the local runner and its queue: what exceeds a limit is delivered
//! late, never dropped, and each conversation's thread stays in order.

use std::time::{Duration, Instant};

use integration_tests::harness::*;
use integration_tests::limits::{HubSpotLimit, SlackLimit};
use serde_json::json;

fn thread_id(i: usize) -> String {
    format!("{}", 3624200000u64 + i as u64)
}

fn chat(e: &Env, i: usize, messages: usize) {
    let t = thread_id(i);
    let msgs: Vec<_> = (1..=messages)
        .map(|n| {
            message_json(
                &format!("{t}-m{n}"),
                n as u32,
                "INCOMING",
                &format!("chat {i} message {n}"),
            )
        })
        .collect();
    e.inbox.set(&thread_json(&t, "1000", "OPEN", None), &msgs);
}

/// 60 new chats at once: about 130 HubSpot calls where 110 go in 10 s. `budget`: the
/// requests per 10 s the client spreads them over (0: only what the headers say).
async fn sixty_new_chats(budget: u64) -> u64 {
    let e = start(Opts {
        max_attempts: 8,
        max_delay: Duration::from_secs(15),
        extra: vec![("HUBSPOT_REQUESTS_PER_10S", budget.to_string())],
        ..Opts::default()
    })
    .await;
    let hubspot = HubSpotLimit::mount(&e.hubspot).await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    const N: usize = 60;
    for i in 0..N {
        chat(&e, i, 1);
    }
    let started = Instant::now();
    for i in 0..N {
        let ev = json!([event("conversation.creation", &thread_id(i), json!({}))]);
        assert_eq!(e.post_webhook(&ev).await.status().as_u16(), 200);
    }
    e.drain_within(Duration::from_secs(90)).await;
    let took = started.elapsed();
    let dead = e.dead_letters().await;
    assert!(dead.is_empty(), "{dead:?}");
    for i in 0..N {
        assert!(
            e.runner
                .app
                .records
                .get_thread(PORTAL, &thread_id(i))
                .await
                .unwrap()
                .is_some(),
            "chat {i} not posted"
        );
    }
    println!(
        "{N} new chats, budget {budget}: {} HubSpot 429s, all posted in {:.1} s",
        hubspot.refused(),
        took.as_secs_f64()
    );
    hubspot.refused()
}

#[tokio::test]
async fn sixty_new_chats_past_hubspots_limit_are_all_posted_late_not_dropped() {
    // By the headers alone the client learns the window from a 429 and waits it out.
    assert!(
        sixty_new_chats(0).await > 0,
        "the burst should have met the limit"
    );
    // Spread over HubSpot's 110 per 10 s from the start, it never meets it.
    assert_eq!(sixty_new_chats(110).await, 0);
}

#[tokio::test]
async fn a_busy_channel_is_paced_to_slacks_rate_and_every_thread_stays_in_order() {
    let e = start(Opts {
        max_attempts: 8,
        // Retried when the platform (or our pacing) says, as SQS does.
        max_delay: Duration::from_secs(15),
        extra: vec![
            // Slack's own rates (the harness turns pacing off by default).
            ("SLACK_POSTS_PER_CHANNEL_PER_MIN", "60".into()),
            ("SLACK_TIER3_PER_MIN", "50".into()),
            ("HUBSPOT_REQUESTS_PER_10S", "110".into()),
        ],
        ..Opts::default()
    })
    .await;
    let slack = SlackLimit::mount(&e.slack).await;
    slack_ok(&e.slack).await;
    hubspot_people(&e.hubspot).await;
    // 12 chats into one channel, then a second message in each: 24 posts where Slack takes
    // 10 at once and then one a second.
    const N: usize = 12;
    for i in 0..N {
        chat(&e, i, 1);
        let ev = json!([event("conversation.creation", &thread_id(i), json!({}))]);
        e.post_webhook(&ev).await;
    }
    for i in 0..N {
        chat(&e, i, 2);
        let t = thread_id(i);
        let ev = json!([event(
            "conversation.newMessage",
            &t,
            json!({"messageId": format!("{t}-m2"), "messageType": "MESSAGE"})
        )]);
        e.post_webhook(&ev).await;
    }
    let started = Instant::now();
    e.drain_within(Duration::from_secs(90)).await;
    let took = started.elapsed();
    let dead = e.dead_letters().await;
    assert!(dead.is_empty(), "{dead:?}");
    let posts = e.slack_calls("chat.postMessage").await;
    for i in 0..N {
        let t = thread_id(i);
        let map = e.map(&t).await;
        let in_thread: Vec<&str> = posts
            .iter()
            .filter(|p| p["thread_ts"].as_str() == Some(map.parent_ts.as_str()))
            .filter_map(|p| p["text"].as_str())
            .collect();
        // The second message once (a refused post is posted again, not twice).
        assert!(
            e.runner
                .app
                .records
                .message(PORTAL, &t, &format!("{t}-m2"))
                .await
                .unwrap()
                .is_some(),
            "chat {i}: second message not mirrored"
        );
        assert!(
            in_thread
                .iter()
                .all(|x| x.contains(&format!("chat {i} message 2"))),
            "{in_thread:?}"
        );
    }
    println!(
        "{} posts into one channel: {} Slack 429s, {:.1} s",
        2 * N,
        slack.refused(),
        took.as_secs_f64()
    );
    // Paced: Slack's limit was hardly ever met (a refused post may meet it once more on
    // its retry, and the two clocks differ by a few milliseconds).
    assert!(slack.refused() <= 2, "{} posts refused", slack.refused());
}
