//! Text going to Slack (escaping, length limits) and coming from Slack
//! (mrkdwn tokens to plain text for the inbox).

const ELLIPSIS: char = '…';

/// Escapes text for Slack: `&`, `<` and `>` only, which is Slack's whole
/// rule. Every special token (`<!channel>`, `<@U1>`, `<url|label>`) needs a
/// literal `<`, so visitor text becomes inert.
// contracts/slack.md: "Escape user text ... nothing else".
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Cuts `text` to at most `max_chars` chars (chars, as Slack counts, not
/// bytes). When cut, the result ends with "…" within that budget, and the
/// flag is true.
pub fn truncate_chars(text: &str, max_chars: usize) -> (String, bool) {
    match cut_point(text, max_chars) {
        None => (text.to_string(), false),
        Some(end) => (with_ellipsis(&text[..end], max_chars), true),
    }
}

/// Escapes, then truncates like [`truncate_chars`] without leaving half an
/// entity (`&am…` would show as garbage): a cut inside one backs off to
/// before its `&`.
pub fn escape_and_truncate(text: &str, max_chars: usize) -> (String, bool) {
    truncate_escaped(&escape(text), max_chars)
}

/// Truncates text that is already escaped (with Slack markup of our own
/// around it, such as quote marks) like [`escape_and_truncate`] does.
pub fn truncate_escaped(escaped: &str, max_chars: usize) -> (String, bool) {
    match cut_point(escaped, max_chars) {
        None => (escaped.to_string(), false),
        Some(mut end) => {
            // Every '&' in escaped text opens an entity ending in ';'.
            if let Some(amp) = escaped[..end].rfind('&') {
                if !escaped[amp..end].contains(';') {
                    end = amp;
                }
            }
            (with_ellipsis(&escaped[..end], max_chars), true)
        }
    }
}

/// `None` when `text` fits in `max_chars`; otherwise the byte offset to cut
/// at so that the kept chars plus "…" fit.
fn cut_point(text: &str, max_chars: usize) -> Option<usize> {
    text.char_indices().nth(max_chars)?;
    let keep = max_chars.saturating_sub(1);
    // `text` has more than `max_chars` chars, so char `keep` exists.
    Some(text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i))
}

fn with_ellipsis(kept: &str, max_chars: usize) -> String {
    let mut out = kept.to_string();
    // A zero budget has no room even for the ellipsis.
    if max_chars > 0 {
        out.push(ELLIPSIS);
    }
    out
}

/// Slack mrkdwn as received in events -> plain text for the inbox.
///
/// Tokens become readable text (`<@U1>` -> "@Name", `<#C1|general>` ->
/// "#general", `<!here>` -> "@here", `<url|label>` -> "label (url)", ...),
/// then `&lt; &gt; &amp;` are unescaped. Formatting markers (`*bold*` etc.)
/// stay. A `<` without a closing `>` is kept literally. Names returned by
/// `user_name` are inserted as they are, not unescaped.
// contracts/slack.md: "Slack to plain text (for the inbox)".
pub fn to_plain(text: &str, user_name: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    for segment in segments(text) {
        match segment {
            Segment::Text(t) => push_unescaped(&mut out, t),
            Segment::Token(inner) => push_token(&mut out, inner, user_name),
        }
    }
    out
}

/// The distinct user ids (`U...`/`W...`) in `<@...>` tokens, in order of
/// first mention, so names can be resolved before calling [`to_plain`].
pub fn user_ids_mentioned(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for segment in segments(text) {
        let Segment::Token(inner) = segment else {
            continue;
        };
        let target = inner.split_once('|').map_or(inner, |(t, _)| t);
        let Some(id) = target.strip_prefix('@') else {
            continue;
        };
        let is_user_id =
            id.starts_with(['U', 'W']) && id.bytes().all(|b| b.is_ascii_alphanumeric());
        if is_user_id && !ids.iter().any(|seen| seen == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

enum Segment<'a> {
    /// Plain text, still escaped.
    Text(&'a str),
    /// What was between `<` and `>`.
    Token(&'a str),
}

/// Splits received text into plain runs and `<...>` tokens. Slack escapes a
/// literal `<`, so one is only seen in odd input: an unterminated one, or one
/// followed by another `<` before any `>`, is kept as text.
fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        if open > 0 {
            out.push(Segment::Text(&rest[..open]));
        }
        let after = &rest[open + 1..];
        match after.find(['<', '>']) {
            Some(close) if after[close..].starts_with('>') => {
                out.push(Segment::Token(&after[..close]));
                rest = &after[close + 1..];
            }
            Some(_) => {
                // Another '<' comes first: this one is literal.
                out.push(Segment::Text(&rest[open..open + 1]));
                rest = after;
            }
            None => {
                out.push(Segment::Text(&rest[open..]));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

fn push_token(out: &mut String, inner: &str, user_name: &dyn Fn(&str) -> Option<String>) {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label).filter(|l| !l.is_empty())),
        None => (inner, None),
    };

    if let Some(id) = target.strip_prefix('@') {
        if id.is_empty() {
            return push_literal(out, inner);
        }
        out.push('@');
        match user_name(id).filter(|n| !n.is_empty()) {
            Some(name) => out.push_str(&name),
            None => push_unescaped(out, label.map_or(id, |l| l.trim_start_matches('@'))),
        }
    } else if let Some(id) = target.strip_prefix('#') {
        if id.is_empty() {
            return push_literal(out, inner);
        }
        out.push('#');
        push_unescaped(out, label.map_or(id, |l| l.trim_start_matches('#')));
    } else if let Some(command) = target.strip_prefix('!') {
        push_special(out, inner, command, label);
    } else if let Some(address) = target.strip_prefix("mailto:") {
        push_link(out, label, address);
    } else if target.is_empty() {
        push_literal(out, inner);
    } else {
        push_link(out, label, target);
    }
}

/// `<!here>`, `<!subteam^S1|@team>`, `<!date^...|fallback>` and the like.
fn push_special(out: &mut String, inner: &str, command: &str, label: Option<&str>) {
    let (name, args) = command.split_once('^').unwrap_or((command, ""));
    match name {
        // The label of `<!here|here>` may lack the '@': use our own text.
        "here" | "channel" | "everyone" => {
            out.push('@');
            out.push_str(name);
        }
        "subteam" => {
            let id = args.split('^').next().unwrap_or_default();
            let shown = label.map_or(id, |l| l.trim_start_matches('@'));
            if shown.is_empty() {
                return push_literal(out, inner);
            }
            out.push('@');
            push_unescaped(out, shown);
        }
        _ => match label {
            Some(fallback) => push_unescaped(out, fallback),
            // A date without its fallback, or `<!>`: nothing better to show.
            None if name.is_empty() || name == "date" => push_literal(out, inner),
            None => {
                out.push('@');
                push_unescaped(out, name);
            }
        },
    }
}

/// `label (url)`, or just the address when there is no distinct label.
fn push_link(out: &mut String, label: Option<&str>, address: &str) {
    match label {
        Some(l) if l != address => {
            push_unescaped(out, l);
            out.push_str(" (");
            push_unescaped(out, address);
            out.push(')');
        }
        _ => push_unescaped(out, address),
    }
}

fn push_literal(out: &mut String, inner: &str) {
    out.push('<');
    push_unescaped(out, inner);
    out.push('>');
}

/// Undoes Slack's escaping in one left-to-right pass, which gives the same
/// result as replacing `&lt;` and `&gt;` first and `&amp;` last: "&amp;lt;"
/// becomes "&lt;", not "<".
fn push_unescaped(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let (decoded, len) = if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else if tail.starts_with("&amp;") {
            ('&', 5)
        } else {
            ('&', 1)
        };
        out.push(decoded);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_names(_: &str) -> Option<String> {
        None
    }

    fn names(id: &str) -> Option<String> {
        match id {
            "U123" => Some("Ada Lovelace".to_string()),
            "W9" => Some("R&D <bot>".to_string()),
            "UEMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn plain(text: &str) -> String {
        to_plain(text, &names)
    }

    // ----------------------------------------------------------- escape --

    #[test]
    fn escape_makes_injection_inert() {
        assert_eq!(escape("<!channel>"), "&lt;!channel&gt;");
        assert_eq!(escape("<!here> hi"), "&lt;!here&gt; hi");
        assert_eq!(escape("ping <@U123>"), "ping &lt;@U123&gt;");
        assert_eq!(
            escape("<https://evil.example|bank>"),
            "&lt;https://evil.example|bank&gt;"
        );
        assert_eq!(escape("a & b"), "a &amp; b");
        // Already-escaped text is escaped again, so Slack shows it literally.
        assert_eq!(escape("&lt;b&gt;"), "&amp;lt;b&amp;gt;");
        // Nothing else is touched.
        let others = "*bold* _it_ ~s~ `c` \"q\" 'a' | @ ! # ^ é 😀 中";
        assert_eq!(escape(others), others);
    }

    #[test]
    fn escape_round_trips_through_to_plain() {
        for s in ["<!channel>", "&amp;lt;", "a<b>c&d", "&", "<", "é<😀>"] {
            assert_eq!(to_plain(&escape(s), &no_names), s);
        }
    }

    // --------------------------------------------------------- truncate --

    #[test]
    fn truncate_counts_chars_not_bytes() {
        assert_eq!(truncate_chars("héllo", 5), ("héllo".to_string(), false));
        assert_eq!(truncate_chars("héllo", 4), ("hél…".to_string(), true));
        assert_eq!(truncate_chars("😀😀😀", 2), ("😀…".to_string(), true));
        assert_eq!(truncate_chars("中文字", 1), ("…".to_string(), true));
        assert_eq!(truncate_chars("中文字", 0), (String::new(), true));
        assert_eq!(truncate_chars("", 0), (String::new(), false));
    }

    #[test]
    fn truncate_at_every_length_stays_within_budget() {
        for text in ["a😀中é&<b>", "👩‍👩‍👧 家族", "plain"] {
            let len = text.chars().count();
            for max in 0..=len + 1 {
                for (out, cut) in [truncate_chars(text, max), escape_and_truncate(text, max)] {
                    assert!(out.chars().count() <= max, "{text:?} {max} -> {out:?}");
                    if cut {
                        assert!(max == 0 || out.ends_with(ELLIPSIS), "{out:?}");
                    }
                }
                let (out, cut) = truncate_chars(text, max);
                assert_eq!(cut, max < len);
                if !cut {
                    assert_eq!(out, text);
                } else if max > 0 {
                    assert!(text.starts_with(out.trim_end_matches(ELLIPSIS)));
                }
            }
        }
    }

    #[test]
    fn escape_and_truncate_never_splits_an_entity() {
        // "ab&amp;cd" is 9 chars; a budget of 6 keeps 5 chars, "ab&am": back off.
        assert_eq!(escape_and_truncate("ab&cd", 6), ("ab…".to_string(), true));
        // A budget of 8 keeps 7 chars, "ab&amp;" whole.
        assert_eq!(
            escape_and_truncate("ab&cd", 8),
            ("ab&amp;…".to_string(), true)
        );
        assert_eq!(
            escape_and_truncate("ab&cd", 9),
            ("ab&amp;cd".to_string(), false)
        );
        assert_eq!(escape_and_truncate("<<<", 5), ("&lt;…".to_string(), true));
        assert_eq!(escape_and_truncate("<<<", 4), ("…".to_string(), true));
        for max in 0..=20 {
            let (out, _) = escape_and_truncate("x<y>&z 😀", max);
            let body = out.trim_end_matches(ELLIPSIS);
            if let Some(amp) = body.rfind('&') {
                assert!(body[amp..].contains(';'), "{max}: {out:?}");
            }
        }
    }

    // --------------------------------------------------------- to_plain --

    #[test]
    fn users() {
        assert_eq!(plain("hi <@U123>!"), "hi @Ada Lovelace!");
        assert_eq!(plain("<@U123|ada>"), "@Ada Lovelace");
        assert_eq!(plain("<@U777|grace>"), "@grace");
        assert_eq!(plain("<@U777>"), "@U777");
        assert_eq!(plain("<@UEMPTY|label>"), "@label");
        assert_eq!(plain("<@U777|>"), "@U777");
        // A looked-up name is used as is, not unescaped or re-parsed.
        assert_eq!(plain("<@W9>"), "@R&D <bot>");
        assert_eq!(plain("<@>"), "<@>");
    }

    #[test]
    fn channels_and_broadcasts() {
        assert_eq!(plain("see <#C123|general>"), "see #general");
        assert_eq!(plain("<#C123>"), "#C123");
        assert_eq!(plain("<#C123|>"), "#C123");
        assert_eq!(
            plain("<!here> <!channel> <!everyone>"),
            "@here @channel @everyone"
        );
        assert_eq!(plain("<!here|here>"), "@here");
        assert_eq!(plain("<!subteam^S1|@team>"), "@team");
        assert_eq!(plain("<!subteam^S1>"), "@S1");
        assert_eq!(
            plain("<!date^1392734382^{date_num} {time_secs}|Posted 2014-02-18>"),
            "Posted 2014-02-18"
        );
        assert_eq!(
            plain("<!date^1392734382^{date}>"),
            "<!date^1392734382^{date}>"
        );
    }

    #[test]
    fn links() {
        assert_eq!(
            plain("<https://evil.example|bank>"),
            "bank (https://evil.example)"
        );
        assert_eq!(
            plain("<https://x.example|https://x.example>"),
            "https://x.example"
        );
        assert_eq!(plain("<https://x.example>"), "https://x.example");
        assert_eq!(plain("<https://x.example|>"), "https://x.example");
        assert_eq!(plain("<mailto:a@b.c|a@b.c>"), "a@b.c");
        assert_eq!(plain("<mailto:a@b.c>"), "a@b.c");
        assert_eq!(plain("<mailto:a@b.c|Ann>"), "Ann (a@b.c)");
        // Slack escapes '&' inside URLs too.
        assert_eq!(
            plain("<https://x.example/?a=1&amp;b=2|q&amp;a>"),
            "q&a (https://x.example/?a=1&b=2)"
        );
    }

    #[test]
    fn unescaping_and_markers() {
        assert_eq!(plain("a &lt;b&gt; &amp; c"), "a <b> & c");
        assert_eq!(plain("&amp;lt;"), "&lt;");
        assert_eq!(plain("&amp;amp;"), "&amp;");
        assert_eq!(plain("&lt;!channel&gt;"), "<!channel>");
        assert_eq!(plain("& &am &lt"), "& &am &lt");
        assert_eq!(plain("*bold* _it_ ~s~ `code`"), "*bold* _it_ ~s~ `code`");
    }

    #[test]
    fn odd_brackets_are_kept() {
        assert_eq!(plain("a < b"), "a < b");
        assert_eq!(plain("<"), "<");
        assert_eq!(plain(">"), ">");
        assert_eq!(plain("<>"), "<>");
        assert_eq!(plain("<|>"), "<|>");
        assert_eq!(plain("1 < 2 <@U123>"), "1 < 2 @Ada Lovelace");
        assert_eq!(plain("<<https://x.example>>"), "<https://x.example>");
        assert_eq!(plain("<!>"), "<!>");
        assert_eq!(plain("é<😀"), "é<😀");
    }

    #[test]
    fn mentioned_user_ids() {
        let text = "<@U1> <@W2|w> <@U1|again> <#C3> <!here> <@B4> <@> <@U5 x> <@U6";
        assert_eq!(user_ids_mentioned(text), vec!["U1", "W2"]);
        assert!(user_ids_mentioned("no mentions").is_empty());
    }

    // --------------------------------------------------------- property --

    /// Deterministic pseudo-random strings (an LCG, to avoid a new crate).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            self.0 >> 33
        }
    }

    #[test]
    fn random_strings() {
        const ALPHABET: &[&str] = &[
            "<", ">", "&", "|", "@", "!", "#", "^", ";", "U", "W", "C", "1", "a", " ", "é", "😀",
            "中", "…", "&amp;", "&lt;", "&gt;", "mailto:", "http://x", "here", "subteam", "date",
            "\u{0}", "\u{200d}",
        ];
        let mut rng = Lcg(0x5eed);
        for _ in 0..500 {
            let len = (rng.next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| ALPHABET[(rng.next() as usize) % ALPHABET.len()])
                .collect();

            let escaped = escape(&s);
            assert!(!escaped.contains(['<', '>']), "{s:?}");
            assert_eq!(to_plain(&escaped, &no_names), s);

            let _ = to_plain(&s, &names);
            let _ = to_plain(&s, &|id: &str| Some(format!("<{id}>")));
            let _ = user_ids_mentioned(&s);

            let mut ordered = String::new();
            push_unescaped(&mut ordered, &s);
            let replaced = s
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            assert_eq!(ordered, replaced, "{s:?}");

            let max = (rng.next() % 30) as usize;
            let (t, _) = truncate_chars(&s, max);
            assert!(t.chars().count() <= max);
            let (t, _) = escape_and_truncate(&s, max);
            assert!(t.chars().count() <= max);
            assert!(!t.contains(['<', '>']));
        }
    }
}
