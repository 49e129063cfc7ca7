//! A property test over every payload the bundle builds: for random input (long and
//! many-lined text, Slack markup, entities, emoji, long names, emails and file names, many
//! attachments and inboxes) the card, the thread text and the Home tab stay within Slack's
//! limits (`limits::check`), and what is posted as text never carries a link token cut in
//! two. A small seeded generator keeps it repeatable; `PAYLOAD_CASES` runs more cases.

use serde_json::{json, Value};

use super::card::{Card, Person};
use super::home::{confirm_shared_channel, view, AlertsView, Routing};
use super::limits;
use super::messages::thread_text;
use crate::domain::{
    Attachment, Direction, InboxInfo, InboxRoute, Install, InstallSource, InstallStatus, Message,
    MessageKind, Participant, ReplyRoute,
};

/// xorshift64*: enough to vary input; not for anything secret.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Text of up to `max` pieces, each a hostile or awkward fragment.
    fn text(&mut self, max: u64) -> String {
        const PIECES: &[&str] = &[
            "a",
            "hello ",
            "\n",
            "\n\n",
            "&",
            "<",
            ">",
            "|",
            "<!channel>",
            "<@U123>",
            "<https://evil.example|bank>",
            "&amp;",
            "😀",
            "👩‍👩‍👧",
            "日本語",
            "ü",
            " ",
            "*bold*",
            "`code`",
            ">quote",
            "x\r\n",
            "\u{200b}",
            "é",
            "~",
            "_",
        ];
        let n = self.below(max + 1);
        let mut s = String::new();
        for _ in 0..n {
            let p = PIECES[self.below(PIECES.len() as u64) as usize];
            // Now and then a long run of one piece.
            let times = if self.below(20) == 0 {
                self.below(400) + 1
            } else {
                1
            };
            for _ in 0..times {
                s.push_str(p);
            }
        }
        s
    }
    fn opt(&mut self, max: u64) -> Option<String> {
        (self.below(4) != 0).then(|| self.text(max))
    }
}

fn card(g: &mut Gen) -> Card {
    let email = format!("{}@{}.example.com", g.text(60), g.text(40));
    Card {
        portal_id: "22761544".into(),
        thread_id: "3624100517".into(),
        first_message: g.text(3000),
        visitor: g.text(300),
        status: ["OPEN", "CLOSED", "SNOOZED"][g.below(3) as usize].into(),
        page: g.opt(400),
        assignee: (g.below(3) != 0).then(|| Person {
            user_id: Some("2620022".into()),
            name: g.text(300),
            email: Some(email),
            slack_user: (g.below(2) == 0).then(|| "U0AGENT001".into()),
        }),
        contact_owner: g.opt(300),
        inbox_url: "https://app.hubspot.com/live-messages/22761544/inbox/3624100517".into(),
        assignee_available: [None, Some(true), Some(false)][g.below(3) as usize],
        last_reply: g.opt(200).map(|w| (w, 1_764_237_600)),
        first_response_secs: (g.below(2) == 0).then(|| g.below(100_000) as i64),
        first_in_ms: None,
        waiting_since: None,
    }
}

fn attachment(g: &mut Gen) -> Attachment {
    let url = || "https://files.example.com/a/b.pdf".to_string();
    match g.below(7) {
        0 | 1 => Attachment::File {
            file_id: Some(g.below(1_000_000).to_string()),
            name: g.opt(300),
            url: (g.below(3) != 0).then(url),
            size: (g.below(2) == 0).then(|| g.next() % 100_000_000),
        },
        2 => Attachment::Location {
            name: g.opt(300),
            url: (g.below(2) == 0).then(url),
        },
        3 => Attachment::Contact { name: g.opt(300) },
        4 => Attachment::QuickReplies {
            labels: (0..g.below(30)).map(|_| g.text(40)).collect(),
        },
        5 => Attachment::Unsupported,
        _ => Attachment::Other { kind: g.text(60) },
    }
}

fn message(g: &mut Gen) -> Message {
    Message {
        id: "m1".into(),
        kind: [MessageKind::Chat, MessageKind::Note][g.below(2) as usize].clone(),
        created_at: String::new(),
        created_at_ms: 0,
        text: g.opt(4000),
        rich_text: None,
        direction: [
            Some(Direction::FromVisitor),
            Some(Direction::FromAgent),
            None,
        ][g.below(3) as usize],
        senders: vec![Participant {
            id: Some("V-1".into()),
            name: g.opt(400),
            delivery: vec![],
        }],
        sent_by_app: None,
        attachments: (0..g.below(40)).map(|_| attachment(g)).collect(),
        reply_route: ReplyRoute::default(),
    }
}

/// Every `<` opens a token that a `>` closes before the next `<`.
fn tokens_whole(text: &str) -> bool {
    let mut open = false;
    for c in text.chars() {
        match c {
            '<' if open => return false,
            '<' => open = true,
            '>' => open = false,
            _ => {}
        }
    }
    !open
}

fn install(g: &mut Gen) -> Install {
    Install {
        portal_id: "22761544".into(),
        team_id: "T1".into(),
        channel_id: Some("C1".into()),
        pending_channel_id: None,
        notifications_on: g.below(2) == 0,
        reactions_on: true,
        bot_token: None,
        bot_rotation: None,
        bot_user_id: Some("UBOT".into()),
        hubspot: None,
        status: if g.below(3) == 0 {
            InstallStatus::NeedsAttention {
                reason: g.text(500),
            }
        } else {
            InstallStatus::Active
        },
        source: InstallSource::OAuth,
        installer_user_id: Some("UADMIN".into()),
        last_delivery_at: Some(1_764_237_600),
        last_error: g.opt(3000),
        created_at: 0,
        version: 1,
        alerts: Default::default(),
        timers: Default::default(),
    }
}

fn routing(g: &mut Gen) -> Routing {
    let n = g.below(300);
    let inboxes: Vec<InboxInfo> = (0..n)
        .map(|i| InboxInfo {
            id: i.to_string(),
            name: g.text(200),
            archived: false,
        })
        .collect();
    let routes = inboxes
        .iter()
        .filter(|_| g.below(3) == 0)
        .map(|i| InboxRoute {
            portal_id: "22761544".into(),
            inbox_id: i.id.clone(),
            channel_id: "C9".into(),
            set_by: "U".into(),
            set_at: 0,
            alerts: Default::default(),
        })
        .collect();
    Routing {
        inboxes: Ok(inboxes),
        routes,
    }
}

fn alerts_view(g: &mut Gen, r: &Routing) -> AlertsView {
    let inboxes = r
        .routes
        .iter()
        .map(|route| {
            let mut route = route.clone();
            route.alerts.first_response_secs =
                Some(g.below(100_000) as u32).filter(|_| g.below(2) == 0);
            route.alerts.escalate_to = g.opt(60);
            (route, g.text(300))
        })
        .collect();
    let groups = (0..g.below(200))
        .map(|i| (format!("S{i}"), g.text(300)))
        .collect();
    AlertsView {
        defaults: Default::default(),
        inboxes,
        groups,
    }
}

#[test]
fn every_payload_stays_within_slacks_limits_for_any_input() {
    let cases: u64 = std::env::var("PAYLOAD_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    for case in 0..cases {
        let c = card(&mut g);
        let blocks = c.blocks();
        if let Err(e) = limits::check(&blocks, false) {
            panic!("case {case}: the card: {e}\n{c:?}");
        }
        assert!(c.fallback_text().chars().count() <= limits::MESSAGE_TEXT);

        let m = message(&mut g);
        let t = thread_text(&m, &c.inbox_url);
        assert!(
            t.chars().count() <= limits::TEXT,
            "case {case}: thread text of {} chars",
            t.chars().count()
        );
        assert!(tokens_whole(&t), "case {case}: a token cut in two: {t}");

        let i = install(&mut g);
        let r = routing(&mut g);
        let notice = g.opt(500);
        let alerts = alerts_view(&mut g, &r);
        let v: Value = view(
            Some(&i),
            g.below(2) == 0,
            notice.as_deref(),
            "https://x/y",
            Some(&r),
            Some(&alerts),
        );
        if let Err(e) = limits::check(&v["blocks"], true) {
            panic!("case {case}: the Home tab: {e}");
        }
        let confirm = json!([confirm_shared_channel(&format!("C{}", g.below(u64::MAX)))]);
        if let Err(e) = limits::check(&confirm, true) {
            panic!("case {case}: the shared-channel confirmation: {e}");
        }
    }
}

#[test]
fn the_reported_279_line_message_fits() {
    // 279 short lines, 2,789 characters: under the old cut, over the limit once quoted.
    let first: String = (0..279).map(|i| format!("line {i:04}\n")).collect();
    assert_eq!(first.chars().count(), 2790);
    let c = Card {
        first_message: first,
        ..card(&mut Gen(7))
    };
    let blocks = c.blocks();
    limits::check(&blocks, false).unwrap();
    let quote = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(
        quote.contains("Read the whole message in the inbox"),
        "{quote}"
    );
}
